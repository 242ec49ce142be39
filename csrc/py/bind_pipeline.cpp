// Bindings of core::Pipeline: conversions, GIL handling and lifetimes only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "core/pipeline.hpp"
#include "py/engine_capsule.hpp"
#include "py/pipeline_handle.hpp"

namespace pb = pybind11;

namespace vart_async::py {
namespace {

using core::Pipeline;

pb::dict spec_dict(const core::TensorSpec& t) {
  pb::dict d;
  d["name"] = t.name;
  d["dtype"] = std::string(core::dtype_name(t.dtype));
  d["shape"] = pb::tuple(pb::cast(t.shape));
  d["layout"] = t.layout;
  d["nbytes"] = t.nbytes;
  if (t.quant) {
    static const char* const kRounding[] = {"UNKNOWN", "ROUND_TO_NEAREST_EVEN", "ROUND_TOWARD_ZERO"};
    d["quant"] = pb::make_tuple(t.quant->scale, t.quant->zero_point,
                                std::string(kRounding[static_cast<std::size_t>(t.quant->rounding)]));
  } else {
    d["quant"] = pb::none();
  }
  pb::dict views;
  for (const auto& [key, v] : {std::pair{"HW", &t.hw}, std::pair{"CPU", &t.cpu}}) {
    if (*v) {
      views[key] =
          pb::make_tuple(std::string(core::dtype_name((*v)->dtype)), pb::tuple(pb::cast((*v)->shape)), (*v)->layout);
    }
  }
  d["views"] = views;
  return d;
}

pb::dict info_dict(const core::EngineInfo& i) {
  pb::dict d;
  d["engine"] = i.engine;
  d["model"] = i.model;
  d["model_name"] = i.model_name;
  d["runtime"] = i.runtime;
  d["emulated"] = i.emulated;
  d["batch_size"] = i.batch_size;
  d["output_batch_size"] = i.output_batch_size;
  pb::list ins, outs;
  for (const auto& t : i.inputs) ins.append(spec_dict(t));
  for (const auto& t : i.outputs) outs.append(spec_dict(t));
  d["inputs"] = ins;
  d["outputs"] = outs;
  pb::dict props;
  for (const auto& [k, v] : i.properties) props[pb::str(k)] = v;
  d["properties"] = props;
  pb::dict asked;
  for (const auto& [k, v] : i.requested) asked[pb::str(k)] = v;
  d["requested"] = asked;
  pb::dict cold;
  if (i.read_s >= 0) cold["read_model_s"] = i.read_s;
  if (i.compile_s >= 0) cold["compile_s"] = i.compile_s;
  d["cold_start"] = cold;
  return d;
}

pb::list slot_arrays(PipelineHandle& h, std::size_t k, bool inputs) {
  Pipeline& p = h.get();
  auto owner = std::make_unique<SlotOwner>(SlotOwner{p.engine_ptr(), p.slot_ptr(k)});
  const core::Slot& slot = *owner->slot;
  const auto& specs = inputs ? p.engine().info().inputs : p.engine().info().outputs;
  const auto& bufs = inputs ? slot.inputs() : slot.outputs();
  // One owner object for all arrays of this call: each array's base keeps the slot alive.
  pb::capsule base(owner.release(), [](void* o) { delete static_cast<SlotOwner*>(o); });
  pb::list out;
  for (std::size_t i = 0; i < bufs.size() && i < specs.size(); ++i) {
    const pb::dtype dt = numpy_dtype(specs[i].dtype);
    out.append(pb::array(dt, numpy_shape(specs[i], dt, bufs[i].nbytes), bufs[i].data, base));
  }
  return out;
}

template <typename T, typename F>
pb::array_t<T> column(const std::vector<core::JobRecord>& jobs, F get) {
  pb::array_t<T> a(static_cast<pb::ssize_t>(jobs.size()));
  T* d = a.mutable_data();
  for (std::size_t i = 0; i < jobs.size(); ++i) d[i] = static_cast<T>(get(jobs[i]));
  return a;
}

pb::dict stats_dict(const core::RunStats& s) {
  pb::dict d;
  d["submitted"] = s.submitted;
  d["completed"] = s.completed;
  d["failed"] = s.failed;
  d["cancelled"] = s.cancelled;
  d["busy_retries"] = s.busy_retries;
  d["max_in_flight"] = s.max_in_flight;
  d["wall_ns"] = s.wall_ns;
  d["cpu_ns"] = s.cpu_ns;
  d["reason"] = std::string(core::to_string(s.reason));
  d["message"] = s.message;
  d["completion_order"] = s.completion_order;
  d["records_dropped"] = s.records_dropped;
  d["first_job_ns"] = s.first_job_ns;
  d["bytes_copied_in"] = s.bytes_copied_in;
  d["bytes_copied_out"] = s.bytes_copied_out;
  d["dropped"] = s.dropped;
  d["late"] = s.late;
  d["late_max_ns"] = s.late_max_ns;
  d["late_total_ns"] = s.late_total_ns;
  const auto& counts = s.latency.counts();
  pb::array_t<std::uint64_t> hist(static_cast<pb::ssize_t>(counts.size()));
  std::copy(counts.begin(), counts.end(), hist.mutable_data());
  d["latency_counts"] = hist;
  d["slot"] = column<std::uint32_t>(s.jobs, [](const core::JobRecord& r) { return r.slot; });
  d["outcome"] = column<std::uint8_t>(s.jobs, [](const core::JobRecord& r) { return r.outcome; });
  d["t_submit"] = column<std::int64_t>(s.jobs, [](const core::JobRecord& r) { return r.t_submit; });
  d["t_started"] = column<std::int64_t>(s.jobs, [](const core::JobRecord& r) { return r.t_started; });
  d["t_done"] = column<std::int64_t>(s.jobs, [](const core::JobRecord& r) { return r.t_done; });
  d["t_arrival"] = column<std::int64_t>(s.jobs, [](const core::JobRecord& r) { return r.t_arrival; });
  d["t_device_start"] = column<std::int64_t>(s.jobs, [](const core::JobRecord& r) { return r.t_device_start; });
  d["t_device_end"] = column<std::int64_t>(s.jobs, [](const core::JobRecord& r) { return r.t_device_end; });
  d["device_unit"] = column<std::int32_t>(s.jobs, [](const core::JobRecord& r) { return r.device_unit; });
  return d;
}

}  // namespace

void bind_pipeline(pb::module_& m) {
  {
    pb::array_t<std::uint64_t> lower(static_cast<pb::ssize_t>(core::LatencyHistogram::kBuckets + 1));
    for (std::size_t i = 0; i <= core::LatencyHistogram::kBuckets; ++i)
      lower.mutable_data()[i] = core::LatencyHistogram::lower(i);
    m.attr("LATENCY_BUCKET_LOWER_NS") = lower;  // bucket i holds [lower[i], lower[i + 1])
    m.attr("LATENCY_RELATIVE_ERROR") = core::LatencyHistogram::kRelativeError;
  }
  m.attr("OUTCOME_COMPLETED") = static_cast<int>(core::JobOutcome::kCompleted);
  m.attr("OUTCOME_FAILED") = static_cast<int>(core::JobOutcome::kFailed);
  m.attr("OUTCOME_CANCELLED") = static_cast<int>(core::JobOutcome::kCancelled);
  m.attr("SLOT_IDLE") = static_cast<int>(core::SlotState::kIdle);
  m.attr("SLOT_RESERVED") = static_cast<int>(core::SlotState::kReserved);
  m.attr("SLOT_COLLECTED") = static_cast<int>(core::SlotState::kCollected);
  m.attr("SLOT_IN_FLIGHT") = static_cast<int>(core::SlotState::kInFlight);
  m.attr("SLOT_ABANDONED") = static_cast<int>(core::SlotState::kAbandoned);

  m.def(
      "engine_info", [](const pb::capsule& engine) { return info_dict(engine_from_capsule(engine)->info()); },
      pb::arg("engine"), "The engine's description (as Pipeline.info()), before any slot is allocated.");

  pb::class_<PipelineHandle>(m, "Pipeline")
      .def(pb::init<const pb::capsule&, std::size_t, std::uint64_t>(), pb::arg("engine"), pb::arg("jobs"),
           pb::arg("max_bytes"), "Allocates `jobs` slots on the engine. Releases the GIL.")
      .def_property_readonly("jobs", [](PipelineHandle& h) { return h.get().jobs(); })
      .def_property_readonly("closed", &PipelineHandle::closed)
      .def("info", [](PipelineHandle& h) { return info_dict(h.get().engine().info()); })
      .def(
          "inputs", [](PipelineHandle& h, std::size_t k) { return slot_arrays(h, k, true); }, pb::arg("slot"),
          "numpy views of slot k's input buffers (zero-copy; each keeps the slot alive).")
      .def(
          "outputs", [](PipelineHandle& h, std::size_t k) { return slot_arrays(h, k, false); }, pb::arg("slot"),
          "numpy views of slot k's output buffers (zero-copy; each keeps the slot alive).")
      .def(
          "state", [](PipelineHandle& h, std::size_t k) { return static_cast<int>(h.get().state(k)); }, pb::arg("slot"))
      .def(
          "run",
          [](PipelineHandle& h, std::uint64_t iterations, double time_limit, bool sync, std::int64_t wait_timeout_ms,
             std::uint64_t warmup, bool completion_order, std::size_t max_records, const pb::list& frames,
             double rate_fps, bool poisson, std::uint64_t seed, bool drop_late, std::size_t max_in_flight) {
            const PipelineHandle::InUse in_use(h);  // close() from another thread must wait for the run
            Pipeline& p = in_use.pipeline();
            core::RunOptions o;
            // The caller's list holds the arrays for the whole call (it is not released before we return).
            for (const pb::handle frame : frames) {
              std::vector<core::Buffer>& f = o.frames.emplace_back();
              for (const pb::handle item : frame) {
                auto a = pb::reinterpret_borrow<pb::array>(item);
                if (!(a.flags() & pb::array::c_style)) throw std::invalid_argument("frame arrays must be C-contiguous");
                auto* bytes = static_cast<std::byte*>(const_cast<void*>(a.data()));  // only read
                f.push_back(core::Buffer{bytes, static_cast<std::size_t>(a.nbytes())});
              }
            }
            o.iterations = iterations;
            o.time_limit_s = time_limit;
            o.sync = sync;
            o.wait_timeout = std::chrono::milliseconds(wait_timeout_ms);
            o.warmup = warmup;
            o.completion_order = completion_order;
            o.max_records = max_records;
            o.rate_fps = rate_fps;
            o.poisson = poisson;
            o.seed = seed;
            o.drop_late = drop_late;
            o.max_in_flight = max_in_flight;
            core::RunStats s;
            {
              // Safe: the whole run is C++; no Python object is touched until it returns.
              pb::gil_scoped_release release;
              s = p.run(o);
            }
            return stats_dict(s);
          },
          pb::arg("iterations"), pb::arg("time_limit"), pb::arg("sync"), pb::arg("wait_timeout_ms"), pb::arg("warmup"),
          pb::arg("completion_order") = true, pb::arg("max_records") = 100'000, pb::arg("frames") = pb::list(),
          pb::arg("rate_fps") = 0.0, pb::arg("poisson") = false, pb::arg("seed") = 0, pb::arg("drop_late") = false,
          pb::arg("max_in_flight") = 0,
          "Runs the pipelined loop in C++ (collecting jobs as they finish when the engine can tell, unless "
          "completion_order is false). Releases the GIL.")
      .def(
          "cancel", [](PipelineHandle& h) { h.get().cancel(); }, "Stops a run from another thread (thread-safe).")
      .def(
          "progress",
          [](PipelineHandle& h) {
            const auto p = h.get().progress();
            return pb::make_tuple(p.submitted, p.completed);
          },
          "(submitted, completed) of the run in progress; callable from any thread.")
      .def(
          "submit",
          [](PipelineHandle& h, std::size_t k, std::int64_t busy_timeout_ms) {
            const PipelineHandle::InUse in_use(h);
            core::Outcome o;
            std::uint64_t seq = 0;
            {
              // Safe: retries "busy" in C++ only.
              const pb::gil_scoped_release release;
              o = in_use.pipeline().submit(k, std::chrono::milliseconds(busy_timeout_ms), &seq);
            }
            return pb::make_tuple(std::string(core::to_string(o.reason)), o.message, seq);
          },
          pb::arg("slot"), pb::arg("busy_timeout_ms"),
          "Submits slot k's job: (reason, message, seq). Releases the GIL.")
      .def(
          "wait",
          [](PipelineHandle& h, std::size_t k, std::uint64_t seq, std::int64_t timeout_us) {
            const PipelineHandle::InUse in_use(h);
            core::Collected c;
            {
              // Safe: blocks in the core only; Ctrl-C is looked at once a slice.
              const pb::gil_scoped_release release;
              c = in_use.pipeline().wait(k, seq, std::chrono::microseconds(timeout_us), python_signals());
            }
            if (!c.done && c.outcome.reason == core::StopReason::kCancelled && PyErr_Occurred() != nullptr) {
              throw pb::error_already_set();
            }
            return pb::make_tuple(c.done, std::string(core::to_string(c.outcome.reason)), c.outcome.message);
          },
          pb::arg("slot"), pb::arg("seq"), pb::arg("timeout_us"),
          "Waits for job seq on slot k: (done, reason, message). Releases the GIL; Ctrl-C raises.")
      .def_property_readonly("on_completion_thread", [](PipelineHandle& h) { return h.get().on_completion_thread(); })
      .def(
          "set_spin", [](PipelineHandle& h, std::int64_t us) { h.get().set_spin(std::chrono::microseconds(us)); },
          pb::arg("microseconds"),
          "Adaptive spin-then-block limit for completion waits (engines that report completions).")
      .def_property_readonly(
          "bytes_copied",
          [](PipelineHandle& h) {
            const core::JobWindow& w = h.get().window();
            return pb::make_tuple(w.copied_in(), w.copied_out());
          },
          "(input bytes copied into slots, output bytes copied out of them), since the pipeline was made.")
      .def(
          "bind_refusals",
          [](PipelineHandle& h) {
            const core::Engine& e = h.get().engine();
            pb::list ins, outs;
            for (std::size_t i = 0; i < e.info().inputs.size(); ++i) ins.append(e.bind_refusal(true, i));
            for (std::size_t i = 0; i < e.info().outputs.size(); ++i) outs.append(e.bind_refusal(false, i));
            return pb::make_tuple(ins, outs);
          },
          "Per input and per output: why a job cannot run on the caller's memory for it ('' when it can).")
      .def_property_readonly("knows_completion_order",
                             [](PipelineHandle& h) { return h.get().knows_completion_order(); })
      .def("close", &PipelineHandle::close,
           "Stops the completion thread and frees the slots (waits for the jobs in flight, all at once, up to "
           "2 s). Releases the GIL; Ctrl-C stops the wait (slots still in use are never freed).");
}

}  // namespace vart_async::py
