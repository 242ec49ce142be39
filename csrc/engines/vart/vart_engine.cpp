#include "engines/vart/vart_engine.hpp"

#include <algorithm>
#include <any>
#include <array>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include <vart/vart_runner_factory.hpp>

namespace vart_async::engines {
namespace {

using core::DType;
using core::Status;

// Our own name tables: the SDK's to_string() helpers only exist in newer header generations.
std::string status_name(vart::StatusCode s) {
  static const char* const kNames[] = {"SUCCESS",        "FAILURE",       "INVALID_INPUT",  "INVALID_OUTPUT",
                                       "OUT_OF_MEMORY",  "RUNTIME_ERROR", "JOB_PENDING",    "INVALID_JOB_ID",
                                       "RESOURCE_UNAVAILABLE", "UNSUPPORTED"};
  const auto i = static_cast<std::size_t>(s);
  return i < std::size(kNames) ? kNames[i] : "status " + std::to_string(i);
}

std::string layout_name(vart::MemoryLayout l) {
  static const char* const kNames[] = {"UNKNOWN",  "NC",      "NCH",       "NHC",       "NHW",      "NWC",     "NHWC",
                                       "NCHW",     "NHWC4",   "NHWC8",     "NC4HW4",    "NC8HW8",   "HCWNC4",  "HCWNC8",
                                       "HCWNC16",  "NHW16C4WC", "NHW16WC4C", "NH2HWC4C", "NH2C4HWC", "GENERIC"};
  const auto i = static_cast<std::size_t>(l);
  return i < std::size(kNames) ? kNames[i] : "layout " + std::to_string(i);
}

DType to_dtype(vart::DataType t, const std::string& tensor) {
  switch (t) {
    case vart::DataType::BOOLEAN: return DType::kBool;
    case vart::DataType::INT8: return DType::kInt8;
    case vart::DataType::UINT8: return DType::kUInt8;
    case vart::DataType::INT16: return DType::kInt16;
    case vart::DataType::UINT16: return DType::kUInt16;
    case vart::DataType::BF16: return DType::kBFloat16;
    case vart::DataType::FP16: return DType::kFloat16;
    case vart::DataType::INT32: return DType::kInt32;
    case vart::DataType::UINT32: return DType::kUInt32;
    case vart::DataType::FLOAT32: return DType::kFloat32;
    case vart::DataType::INT64: return DType::kInt64;
    case vart::DataType::UINT64: return DType::kUInt64;
    default: break;
  }
  throw std::runtime_error("tensor '" + tensor + "' has a data type vart-async does not handle (" +
                           std::to_string(static_cast<int>(t)) + ")");
}

vart::TensorType parse_tensor_type(const std::string& key, const std::string& value) {
  std::string v;
  for (char c : value) v += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (v == "HW") return vart::TensorType::HW;
  if (v == "CPU") return vart::TensorType::CPU;
  throw std::invalid_argument(key + " must be 'HW' or 'CPU' (got '" + value + "')");
}

// The runtime any_casts option values, so each key must carry exactly the type it expects.
std::any option_value(const std::string& key, const std::string& value) {
  static const char* const kBool[] = {"aie_columns_sharing", "ai_analyzer_profiling", "debug",
                                      "no_failsafe",         "skip_in_bo_sync",       "skip_out_bo_sync"};
  static const char* const kUInt32[] = {"start_column", "cma_index", "xdna_device_index"};
  for (const char* k : kBool) {
    if (key == k) {
      if (value == "1" || value == "true" || value == "True") return true;
      if (value == "0" || value == "false" || value == "False") return false;
      throw std::invalid_argument("option " + key + " must be true or false (got '" + value + "')");
    }
  }
  for (const char* k : kUInt32) {
    if (key == k) {
      std::size_t used = 0;
      unsigned long n = 0;
      try {
        n = std::stoul(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || value.empty() || n > UINT32_MAX) {
        throw std::invalid_argument("option " + key + " must be an unsigned integer (got '" + value + "')");
      }
      return static_cast<std::uint32_t>(n);
    }
  }
  return value;
}

// What the execute_async callback of a slot's job writes. Shared with the callback (which the runtime
// may keep and drop on its own thread after the slot, or the engine, is gone).
struct CallbackState {
  std::mutex mutex;
  std::condition_variable changed;
  bool done = true;
  vart::StatusCode status = vart::StatusCode::SUCCESS;
  std::function<void()> report;  // the job window's completion report (set once, before any job)
};

// One slot: per tensor one runner-allocated parent buffer holding every batch row, and per-row
// sub-tensor views of it, so Python gets one contiguous array per tensor.
class VartSlot final : public core::Slot {
 public:
  std::vector<vart::NpuTensor> parents;
  std::vector<std::vector<vart::NpuTensor>> in_rows;   // [batch][tensor]
  std::vector<std::vector<vart::NpuTensor>> out_rows;  // [batch][tensor]
  std::vector<std::vector<vart::NpuTensor>> own_in_rows, own_out_rows;  // the above while not bound
  vart::JobHandle job;
  std::shared_ptr<CallbackState> callback;  // completion="callback" once the window asked for reports

  void add(bool input, core::Buffer b) { (input ? inputs_ : outputs_).push_back(b); }
};

class VartEngine final : public core::Engine {
 public:
  VartEngine(const std::string& model, const std::map<std::string, std::string>& options) {
    std::unordered_map<std::string, std::any> runner_options;
    vart::TensorType in_type = vart::TensorType::HW, out_type = vart::TensorType::HW;
    for (const auto& [key, value] : options) {
      if (key == "completion") {  // ours, not the runtime's
        callbacks_ = parse_completion(value);
        continue;
      }
      if (key == "input_tensor_type") in_type = parse_tensor_type("input_tensor_type", value);
      if (key == "output_tensor_type") out_type = parse_tensor_type("output_tensor_type", value);
      for (const char* prefix : {"input_tensor_type.", "output_tensor_type."}) {
        const std::string p = prefix;
        if (key.size() > p.size() && key.compare(0, p.size(), p) == 0) {
          (p[0] == 'i' ? in_one_ : out_one_)[key.substr(p.size())] = parse_tensor_type(key, value);
        }
      }
      runner_options[key] = option_value(key, value);
    }
    runner_options.try_emplace("input_tensor_type", std::string(in_type == vart::TensorType::HW ? "HW" : "CPU"));
    runner_options.try_emplace("output_tensor_type", std::string(out_type == vart::TensorType::HW ? "HW" : "CPU"));
    runner_options.try_emplace("log_level", std::string("WARNING"));

    runner_ = vart::RunnerFactory::create_runner(vart::RunnerType::VAIML, model, runner_options);
    try {
      const std::any v = runner_ ? runner_->get_property("device_times") : std::any{};
      device_times_ = std::any_cast<bool>(&v) != nullptr && std::any_cast<bool>(v);
    } catch (const std::exception&) {
      device_times_ = false;  // the documented runtime: unsupported key
    }
    if (!runner_) throw std::runtime_error("RunnerFactory::create_runner returned null for '" + model + "'");
    check_tensor_names(vart::TensorDirection::INPUT, in_one_);
    check_tensor_names(vart::TensorDirection::OUTPUT, out_one_);
    in_infos_ = exchanged_views(vart::TensorDirection::INPUT, in_type, in_one_);
    out_infos_ = exchanged_views(vart::TensorDirection::OUTPUT, out_type, out_one_);
    in_batch_ = runner_->get_batch_size(vart::TensorDirection::INPUT);
    out_batch_ = runner_->get_batch_size(vart::TensorDirection::OUTPUT);
    if (in_infos_.empty() || out_infos_.empty()) throw std::runtime_error("the model reports no input or no output tensors");
    if (in_batch_ == 0 || out_batch_ == 0) throw std::runtime_error("the model reports a batch size of 0");

    info_.engine = "vart";
    info_.model = model;
    info_.emulated = vart_engine_emulated();
    info_.batch_size = in_batch_;
    info_.output_batch_size = out_batch_;
    info_.model_name = property_string("model_name", model);
    info_.runtime = property_string("runtime", info_.emulated ? "VART-ML emulator (no NPU)" : "VART-ML (libvart-ml)");
    info_.properties = {{"input_tensor_type", in_type == vart::TensorType::HW ? "HW" : "CPU"},
                        {"output_tensor_type", out_type == vart::TensorType::HW ? "HW" : "CPU"},
                        {"completion", callbacks_ ? "callback" : "poll"}};
    for (const auto* one : {&in_one_, &out_one_}) {
      for (const auto& [name, type] : *one) {
        info_.properties.emplace_back(std::string(one == &in_one_ ? "input" : "output") + "_tensor_type." + name,
                                      type == vart::TensorType::HW ? "HW" : "CPU");
      }
    }
    // What the runtime says about itself, for the keys it has (the emulator's and AMD's runtime's
    // differ; get_property throws for the others): shown in the CLI summary.
    for (const char* key : {"compute_units", "execution_slots", "nb_systems", "nb_cores_per_system",
                            "batch_size_per_core", "nb_ddrs"}) {
      try {
        const std::string text = any_text(runner_->get_property(key));
        if (!text.empty()) info_.properties.emplace_back(key, text);
      } catch (const std::exception&) {
        // not a key of this runtime
      }
    }
    for (const auto& i : in_infos_) check_batched_shape(i, in_batch_);
    for (const auto& o : out_infos_) check_batched_shape(o, out_batch_);
    for (const auto& i : in_infos_) {
      info_.inputs.push_back(with_views(spec(i, in_batch_), vart::TensorDirection::INPUT, in_batch_));
    }
    for (const auto& o : out_infos_) {
      info_.outputs.push_back(with_views(spec(o, out_batch_), vart::TensorDirection::OUTPUT, out_batch_));
    }
  }

  const core::EngineInfo& info() const noexcept override { return info_; }

  std::unique_ptr<core::Slot> create_slot() override {
    auto slot = std::make_unique<VartSlot>();
    slot->in_rows.assign(in_batch_, {});
    slot->out_rows.assign(out_batch_, {});
    allocate(*slot, in_infos_, in_batch_, true);
    allocate(*slot, out_infos_, out_batch_, false);
    slot->own_in_rows = slot->in_rows;  // shallow copies: the same buffers
    slot->own_out_rows = slot->out_rows;
    return slot;
  }

  // The API lets ordinary host memory be wrapped as a USER_POINTER_NON_CMA NpuTensor for
  // CPU-typed tensors only: the runtime reads and writes HW-typed tensors by DMA from device memory.
  std::string bind_refusal(bool input, std::size_t i) const override {
    const auto& infos = input ? in_infos_ : out_infos_;
    if (i >= infos.size()) return "no such tensor";
    if (infos[i].tensor_type != vart::TensorType::HW) return {};
    return std::string(input ? "input" : "output") + " '" + infos[i].name +
           "' is HW-typed (the runtime exchanges HW tensors in device memory, which a caller's array is not)";
  }

  Status bind(core::Slot& s, const std::vector<core::Buffer>& inputs,
              const std::vector<core::Buffer>& outputs) noexcept override {
    auto& slot = static_cast<VartSlot&>(s);
    try {
      std::vector<std::vector<vart::NpuTensor>> in_rows = slot.own_in_rows, out_rows = slot.own_out_rows;
      if (!inputs.empty()) in_rows = wrap_rows(inputs, in_infos_, in_batch_, true);
      if (!outputs.empty()) out_rows = wrap_rows(outputs, out_infos_, out_batch_, false);
      slot.in_rows = std::move(in_rows);
      slot.out_rows = std::move(out_rows);
      return Status::ok();
    } catch (const std::exception& e) {
      return Status::failed(e.what());
    }
  }

  // completion="callback": jobs go through the execute_async callback overload, whose callback
  // reports the job to the job window and records its status. wait() then reads that record and
  // never asks the runtime (the emulator, as documented, forgets a callback job once its callback
  // returned; see docs/board.md for what the board must confirm).
  bool notify_when_done(core::Slot& s, std::function<void()> done) noexcept override {
    if (!callbacks_) return false;
    auto& slot = static_cast<VartSlot&>(s);
    try {
      auto state = std::make_shared<CallbackState>();
      state->report = std::move(done);
      slot.callback = std::move(state);
      return true;
    } catch (...) {
      slot.callback = nullptr;  // this slot polls; the window then collects oldest first
      return false;
    }
  }

  Status submit(core::Slot& s) noexcept override {
    auto& slot = static_cast<VartSlot&>(s);
    const vart::JobHandle h =
        slot.callback ? submit_with_callback(slot) : runner_->execute_async(slot.in_rows, slot.out_rows);
    if (h.status == vart::StatusCode::SUCCESS) {
      slot.job = h;
      return Status::ok();
    }
    if (h.status == vart::StatusCode::RESOURCE_UNAVAILABLE) return Status::busy();
    return Status::failed("execute_async returned " + status_name(h.status));
  }

  Status wait(core::Slot& s, std::chrono::microseconds timeout) noexcept override {
    auto& slot = static_cast<VartSlot&>(s);
    if (slot.callback) return wait_for_callback(*slot.callback, timeout);
    // VART waits in whole milliseconds: round up so a short wait is never turned into a poll.
    const std::chrono::milliseconds ms{(timeout.count() + 999) / 1000};
    const vart::StatusCode st = runner_->wait(slot.job, ms);
    if (st == vart::StatusCode::SUCCESS) return Status::ok();
    if (st == vart::StatusCode::JOB_PENDING) return Status::pending();
    // The pipeline names the job ("job 2 failed: ..."): a second number here (VART's handle id) only confuses.
    return Status::failed("wait returned " + status_name(st));
  }

  // Where the runtime tells (the emulator's "device_times:<job id>" property; a runtime without it
  // is asked once, at creation): when the device ran the slot's last async job, on which unit.
  bool device_times(const core::Slot& s, core::DeviceTimes& out) noexcept override {
    if (!device_times_) return false;
    const auto& slot = static_cast<const VartSlot&>(s);
    try {
      const std::any v = runner_->get_property("device_times:" + std::to_string(slot.job.job_id));
      const auto* t = std::any_cast<std::array<std::int64_t, 3>>(&v);
      if (t == nullptr) return false;
      using std::chrono::steady_clock;
      out.start = steady_clock::time_point(std::chrono::nanoseconds((*t)[0]));
      out.end = steady_clock::time_point(std::chrono::nanoseconds((*t)[1]));
      out.unit = static_cast<int>((*t)[2]);
      return true;
    } catch (const std::exception&) {
      return false;  // forgotten (older than what the runtime keeps), or a sync job
    }
  }

  Status run(core::Slot& s) noexcept override {
    auto& slot = static_cast<VartSlot&>(s);
    const vart::StatusCode st = runner_->execute(slot.in_rows, slot.out_rows);
    if (st == vart::StatusCode::SUCCESS) return Status::ok();
    return Status::failed("execute returned " + status_name(st));
  }

 private:
  // A per-tensor type for a tensor the model does not have is an error (the documented API does not
  // say that the runtime refuses it, and a typo must never fall back to the global type).
  void check_tensor_names(vart::TensorDirection direction, const std::map<std::string, vart::TensorType>& one) const {
    if (one.empty()) return;
    const bool input = direction == vart::TensorDirection::INPUT;
    std::vector<std::string> names;
    for (const auto& i : runner_->get_tensors_info(direction, vart::TensorType::CPU)) names.push_back(i.name);
    for (const auto& entry : one) {
      if (std::find(names.begin(), names.end(), entry.first) != names.end()) continue;
      std::string have;
      for (const auto& n : names) have += (have.empty() ? "'" : ", '") + n + "'";
      throw std::invalid_argument(std::string(input ? "input" : "output") + "_tensor_type." + entry.first +
                                  ": the model has no " + (input ? "input" : "output") + " tensor named '" +
                                  entry.first + "' (its " + (input ? "inputs" : "outputs") + ": " + have + ")");
    }
  }

  // The view each tensor is exchanged in: the global tensor type, or its own
  // (`input_tensor_type.<name>`), so that its slot buffer has that view's size. Model order is the
  // CPU list's (it holds every tensor; the HW list lacks CPU-subgraph boundaries).
  std::vector<vart::NpuTensorInfo> exchanged_views(vart::TensorDirection direction, vart::TensorType all,
                                                   const std::map<std::string, vart::TensorType>& one) const {
    if (one.empty()) return runner_->get_tensors_info(direction, all);
    std::vector<vart::NpuTensorInfo> views;
    for (const auto& cpu : runner_->get_tensors_info(direction, vart::TensorType::CPU)) {
      const auto it = one.find(cpu.name);
      const vart::TensorType type = it != one.end() ? it->second : all;
      views.push_back(type == vart::TensorType::CPU ? cpu : runner_->get_tensor_info_by_name(cpu.name, type));
    }
    return views;
  }

  static std::string any_text(const std::any& v) {
    if (const auto* s = std::any_cast<std::string>(&v)) return *s;
    if (const auto* n = std::any_cast<std::size_t>(&v)) return std::to_string(*n);
    if (const auto* n = std::any_cast<std::uint32_t>(&v)) return std::to_string(*n);
    if (const auto* n = std::any_cast<std::uint8_t>(&v)) return std::to_string(unsigned{*n});
    if (const auto* n = std::any_cast<int>(&v)) return std::to_string(*n);
    if (const auto* b = std::any_cast<bool>(&v)) return *b ? "true" : "false";
    return {};  // a type we do not show
  }

  static bool parse_completion(const std::string& value) {
    if (value == "callback") return true;
    if (value == "poll") return false;
    throw std::invalid_argument("completion must be 'poll' or 'callback' (got '" + value + "')");
  }

  vart::JobHandle submit_with_callback(VartSlot& slot) noexcept {
    const std::shared_ptr<CallbackState>& state = slot.callback;
    {
      const std::lock_guard<std::mutex> lock(state->mutex);
      state->done = false;
    }
    // Runs on a runtime worker thread, which on AMD's runtime holds its job-table lock meanwhile:
    // only report and record here -- never wait() or execute_async() (they would deadlock there).
    // Reported first, so that wait() gives kOk only once the window has the report (the contract of
    // notify_when_done).
    return runner_->execute_async(slot.in_rows, slot.out_rows, [state](const vart::JobHandle& h) {
      state->report();
      {
        const std::lock_guard<std::mutex> lock(state->mutex);
        state->status = h.status;
        state->done = true;
      }
      state->changed.notify_all();
    });
  }

  static Status wait_for_callback(CallbackState& state, std::chrono::microseconds timeout) noexcept {
    // Bounded so that no deadline arithmetic overflows; the window waits in slices anyway.
    const std::chrono::microseconds limit = std::min<std::chrono::microseconds>(timeout, std::chrono::hours(1));
    std::unique_lock<std::mutex> lock(state.mutex);
    if (!state.done && limit.count() > 0) state.changed.wait_for(lock, limit, [&state] { return state.done; });
    if (!state.done) return Status::pending();
    if (state.status == vart::StatusCode::SUCCESS) return Status::ok();
    return Status::failed("the execute_async callback reported " + status_name(state.status));
  }

  std::string property_string(const std::string& key, const std::string& fallback) const {
    try {
      return std::any_cast<std::string>(runner_->get_property(key));
    } catch (const std::exception&) {
      return fallback;  // an SDK without this property
    }
  }

  // A slot's tensor holds every batch row along its leading dimension, a uint32_t in VART's shape:
  // the product must fit (65536 x 65536 would wrap to 0 and describe an empty tensor).
  static void check_batched_shape(const vart::NpuTensorInfo& i, std::size_t batch) {
    if (i.shape.empty()) return;
    const std::uint64_t lead = std::uint64_t{i.shape[0]} * batch;
    if (lead > UINT32_MAX) {
      throw std::runtime_error("tensor '" + i.name + "': its leading dimension " + std::to_string(i.shape[0]) +
                               " times the batch size " + std::to_string(batch) + " is " + std::to_string(lead) +
                               ", more than a VART tensor dimension holds (2^32-1)");
    }
  }

  // The tensor's quantization parameters (get_quant_parameters) and both of its views, when the
  // runtime has them: what Session.quantize/dequantize convert between.
  core::TensorSpec with_views(core::TensorSpec t, vart::TensorDirection direction, std::size_t batch) const {
    try {
      const vart::QuantParameters& q = runner_->get_quant_parameters(t.name);
      core::Quant quant;
      quant.scale = q.scale;
      quant.zero_point = q.zero_point;
      quant.rounding = q.rounding_mode == vart::RoundingMode::ROUND_TO_NEAREST_EVEN ? core::Rounding::kNearestEven
                       : q.rounding_mode == vart::RoundingMode::ROUND_TOWARD_ZERO  ? core::Rounding::kTowardZero
                                                                                   : core::Rounding::kUnknown;
      t.quant = quant;
    } catch (const std::exception&) {
      // no quantization parameters for this tensor
    }
    for (const vart::TensorType type : {vart::TensorType::HW, vart::TensorType::CPU}) {
      try {
        for (const auto& i : runner_->get_tensors_info(direction, type)) {
          if (i.name != t.name) continue;
          const core::TensorSpec v = spec(i, batch);
          (type == vart::TensorType::HW ? t.hw : t.cpu) = core::TensorView{v.dtype, v.shape, v.layout};
        }
      } catch (const std::exception&) {
        // a view the runtime does not list, or in a data type we do not handle: not offered
      }
    }
    return t;
  }

  static core::TensorSpec spec(const vart::NpuTensorInfo& i, std::size_t batch) {
    core::TensorSpec t;
    t.name = i.name;
    t.dtype = to_dtype(i.data_type, i.name);
    t.layout = layout_name(i.memory_layout);
    t.nbytes = i.size_in_bytes * batch;
    // Rows stack along a leading unit batch axis when there is one, else along a new axis.
    const bool unit_lead = !i.shape.empty() && i.shape[0] == 1;
    t.shape.push_back(static_cast<std::int64_t>(batch));
    for (std::size_t d = unit_lead ? 1 : 0; d < i.shape.size(); ++d) t.shape.push_back(i.shape[d]);
    return t;
  }

  // Per batch row, per tensor, an NpuTensor over the caller's memory (one buffer per tensor, rows
  // back to back). Inputs are only read by the runtime; the non-const constructor is the one
  // whose tensors have a virtual address.
  std::vector<std::vector<vart::NpuTensor>> wrap_rows(const std::vector<core::Buffer>& buffers,
                                                      const std::vector<vart::NpuTensorInfo>& infos,
                                                      std::size_t batch, bool input) const {
    if (buffers.size() != infos.size()) throw std::invalid_argument("one buffer per tensor is needed");
    std::vector<std::vector<vart::NpuTensor>> rows(batch);
    for (std::size_t i = 0; i < infos.size(); ++i) {
      const std::string refusal = bind_refusal(input, i);
      if (!refusal.empty()) throw std::invalid_argument(refusal);
      if (buffers[i].data == nullptr || buffers[i].nbytes != infos[i].size_in_bytes * batch) {
        throw std::invalid_argument("tensor '" + infos[i].name + "' needs " +
                                    std::to_string(infos[i].size_in_bytes * batch) + " bytes");
      }
      for (std::size_t b = 0; b < batch; ++b) {
        rows[b].emplace_back(infos[i], buffers[i].data + b * infos[i].size_in_bytes,
                             vart::MemoryType::USER_POINTER_NON_CMA);
      }
    }
    return rows;
  }

  void allocate(VartSlot& slot, const std::vector<vart::NpuTensorInfo>& infos, std::size_t batch, bool input) {
    auto& rows = input ? slot.in_rows : slot.out_rows;
    for (const auto& info : infos) {
      vart::NpuTensorInfo whole = info;
      whole.size = info.size * batch;
      whole.size_in_bytes = info.size_in_bytes * batch;
      if (!whole.shape.empty()) whole.shape[0] *= static_cast<std::uint32_t>(batch);
      vart::NpuTensor parent;
      try {
        parent = runner_->allocate_npu_tensor(whole);
      } catch (const std::exception& e) {
        throw std::runtime_error("allocate_npu_tensor failed for tensor '" + info.name + "': " + e.what());
      }
      auto* base = static_cast<std::byte*>(parent.get_virtual_address());
      if (base == nullptr) throw std::runtime_error("allocate_npu_tensor gave tensor '" + info.name + "' no virtual address");
      for (std::size_t b = 0; b < batch; ++b) {
        rows[b].push_back(runner_->allocate_sub_tensor(parent, info, b * info.size_in_bytes));
      }
      slot.add(input, core::Buffer{base, whole.size_in_bytes});
      slot.parents.push_back(std::move(parent));
    }
  }

  std::shared_ptr<vart::Runner> runner_;
  std::vector<vart::NpuTensorInfo> in_infos_, out_infos_;
  std::size_t in_batch_ = 0, out_batch_ = 0;
  bool callbacks_ = false;     // completion="callback"
  bool device_times_ = false;  // the runtime has a "device_times" property (our emulator does)
  std::map<std::string, vart::TensorType> in_one_, out_one_;  // per-tensor tensor types
  core::EngineInfo info_;
};

}  // namespace

bool vart_engine_emulated() noexcept { return VART_ASYNC_VART_EMULATED != 0; }

std::unique_ptr<core::Engine> create_vart_engine(const std::string& model,
                                                 const std::map<std::string, std::string>& options) {
  return std::make_unique<VartEngine>(model, options);
}

}  // namespace vart_async::engines
