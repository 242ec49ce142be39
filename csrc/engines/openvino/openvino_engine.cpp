#include "engines/openvino/openvino_engine.hpp"
#include "engines/openvino/openvino_options.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <openvino/core/layout.hpp>
#include <openvino/core/version.hpp>
#include <openvino/openvino.hpp>

#ifndef VART_ASYNC_OPENVINO_VERSION
#error "VART_ASYNC_OPENVINO_VERSION (the pinned OpenVINO release) must be defined by the build"
#endif

namespace vart_async::engines {
namespace {

using core::DType;
using core::Status;
using openvino_options::lower;
using openvino_options::parse_options;
using openvino_options::parse_shapes;
using openvino_options::Settings;

constexpr std::size_t kAlign = 64;  // cache line / AVX-512 vector

// OpenVINO messages start with "Exception from src/...cpp:NN:" lines that mean nothing to a user.
std::string clean_message(const char* what) {
  std::string out, line;
  const std::string text = what ? what : "";
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    line = text.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (line.empty() || line.rfind("Exception from ", 0) == 0) continue;
    if (!out.empty()) out += ' ';
    out += line;
  }
  return out.empty() ? text : out;
}

DType to_dtype(const ov::element::Type& t, const std::string& tensor) {
  switch (static_cast<ov::element::Type_t>(t)) {
    case ov::element::Type_t::boolean: return DType::kBool;
    case ov::element::Type_t::i8: return DType::kInt8;
    case ov::element::Type_t::u8: return DType::kUInt8;
    case ov::element::Type_t::i16: return DType::kInt16;
    case ov::element::Type_t::u16: return DType::kUInt16;
    case ov::element::Type_t::bf16: return DType::kBFloat16;
    case ov::element::Type_t::f16: return DType::kFloat16;
    case ov::element::Type_t::i32: return DType::kInt32;
    case ov::element::Type_t::u32: return DType::kUInt32;
    case ov::element::Type_t::f32: return DType::kFloat32;
    case ov::element::Type_t::i64: return DType::kInt64;
    case ov::element::Type_t::u64: return DType::kUInt64;
    default: break;
  }
  throw std::runtime_error("tensor '" + tensor + "' has element type " + t.get_type_name() +
                           ", which vart_async does not handle (supported: boolean, i8, u8, i16, u16, bf16, f16, "
                           "i32, u32, f32, i64, u64)");
}

std::string port_name(const ov::Output<const ov::Node>& port, const char* kind, std::size_t i) {
  return port.get_names().empty() ? std::string(kind) + std::to_string(i) : port.get_any_name();
}
std::string port_name(const ov::Output<ov::Node>& port, const char* kind, std::size_t i) {
  return port.get_names().empty() ? std::string(kind) + std::to_string(i) : port.get_any_name();
}

// OpenVINO would open a FIFO (and block until a writer comes) or read a device without end.
void require_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    const char* kind = S_ISFIFO(st.st_mode)  ? "a FIFO (named pipe)"
                       : S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISDIR(st.st_mode) ? "a directory"
                                             : "not a regular file";
    throw std::invalid_argument("model path is not a regular file: " + path + " is " + kind);
  }
}

// "[N,C,H,W]" -> "NCHW"; empty when the model sets no layout.
std::string layout_text(const ov::Output<const ov::Node>& port) {
  const ov::Layout l = ov::layout::get_layout(port);
  if (l.empty()) return {};
  std::string s = l.to_string();
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == '[' || c == ']' || c == ','; }), s.end());
  return s;
}


// Runs `fn` on a short-lived thread of our own and returns or rethrows what it did. OpenVINO's CPU
// plugin keeps a thread that compiles a model or creates an infer request enlisted in its thread
// pool, and such a thread is rescheduled across cores ~30x more often afterwards: a host loop run
// on it (Session.stream() on Python's main thread) measured 20-25% slower than on other threads.
template <typename F>
void on_own_thread(F&& fn) {
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  worker.join();
  if (error) std::rethrow_exception(error);
}

struct AlignedFree {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};
using AlignedBytes = std::unique_ptr<std::byte, AlignedFree>;

// Member order matters: the request is destroyed first (it stops any job still running), and only
// then the tensors and the memory it reads and writes.
class OvSlot final : public core::Slot {
 public:
  std::vector<AlignedBytes> memory;
  std::vector<ov::Tensor> tensors;
  ov::InferRequest request;

  void add(bool input, core::Buffer b) { (input ? inputs_ : outputs_).push_back(b); }
};

class OpenVinoEngine final : public core::Engine {
 public:
  OpenVinoEngine(const std::string& model_path, const std::map<std::string, std::string>& options) {
    Settings settings = parse_options(options);
    const std::string suffix = lower(model_path.substr(std::min(model_path.size(), model_path.rfind('.'))));
    if (suffix != ".onnx" && suffix != ".xml") {
      throw std::invalid_argument("the openvino engine loads ONNX (.onnx) and OpenVINO IR (.xml) models, not '" +
                                  model_path + "'");
    }

    if (!settings.cache_dir.empty()) core_.set_property(ov::cache_dir(settings.cache_dir));
    require_regular_file(model_path);
    using Clock = std::chrono::steady_clock;
    const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    const auto t0 = Clock::now();
    std::shared_ptr<ov::Model> model = core_.read_model(model_path);
    if (!settings.shape.empty()) reshape(*model, parse_shapes(settings.shape));
    require_static(*model);
    const auto t1 = Clock::now();
    compiled_ = core_.compile_model(model, settings.device, settings.config);
    info_.read_s = seconds(t1 - t0);
    info_.compile_s = seconds(Clock::now() - t1);

    info_.engine = "openvino";
    info_.model = model_path;
    // The ONNX frontend names every model "onnx_Frontend_IR": the file's stem says more.
    const std::size_t slash = model_path.find_last_of('/');
    const std::string file = slash == std::string::npos ? model_path : model_path.substr(slash + 1);
    info_.model_name = file.substr(0, file.rfind('.'));
    info_.emulated = false;
    info_.runtime = "OpenVINO " + openvino_runtime_version() + " (" + settings.device + ")";
    const auto& ins = compiled_.inputs();
    const auto& outs = compiled_.outputs();
    for (std::size_t i = 0; i < ins.size(); ++i) info_.inputs.push_back(spec(ins[i], port_name(ins[i], "input", i)));
    for (std::size_t i = 0; i < outs.size(); ++i) {
      info_.outputs.push_back(spec(outs[i], port_name(outs[i], "output", i)));
    }
    if (info_.inputs.empty() || info_.outputs.empty()) throw std::runtime_error("the model has no inputs or no outputs");
    info_.batch_size = info_.inputs[0].shape.empty() ? 1 : static_cast<std::size_t>(info_.inputs[0].shape[0]);
    info_.output_batch_size = info_.batch_size;  // OpenVINO has no batch of its own for outputs
    report_properties(settings.device);
    for (const auto& [key, value] : settings.config) {
      try {
        info_.requested.emplace_back(key, value.as<std::string>());
      } catch (const std::exception&) {
        info_.requested.emplace_back(key, "?");
      }
    }
    if (!settings.cache_dir.empty()) info_.requested.emplace_back(ov::cache_dir.name(), settings.cache_dir);
  }

  const core::EngineInfo& info() const noexcept override { return info_; }

  // The tensors are set once here and never again: the steady state only refills their memory.
  std::unique_ptr<core::Slot> create_slot() override {
    auto slot = std::make_unique<OvSlot>();
    try {
      on_own_thread([&] { slot->request = compiled_.create_infer_request(); });
      const auto& ins = compiled_.inputs();
      const auto& outs = compiled_.outputs();
      for (std::size_t i = 0; i < ins.size(); ++i) {
        slot->request.set_input_tensor(i, wrap(*slot, ins[i], info_.inputs[i], true));
      }
      for (std::size_t i = 0; i < outs.size(); ++i) {
        slot->request.set_output_tensor(i, wrap(*slot, outs[i], info_.outputs[i], false));
      }
    } catch (const std::exception& e) {  // only standard types may cross into the core's module
      throw std::runtime_error("cannot create an OpenVINO infer request: " + clean_message(e.what()));
    }
    return slot;
  }

  // Any host memory can be a tensor (ov::Tensor over a host pointer).
  std::string bind_refusal(bool input, std::size_t i) const override {
    return i < (input ? info_.inputs : info_.outputs).size() ? std::string() : std::string("no such tensor");
  }

  // The caller's memory as the request's tensors (ov::Tensor over it, no copy), or the slot's own
  // again. Only while the request is idle, as OpenVINO requires for set_tensor.
  Status bind(core::Slot& s, const std::vector<core::Buffer>& inputs,
              const std::vector<core::Buffer>& outputs) noexcept override {
    auto& slot = static_cast<OvSlot&>(s);
    try {
      const auto& ins = compiled_.inputs();
      const auto& outs = compiled_.outputs();
      if ((!inputs.empty() && inputs.size() != ins.size()) || (!outputs.empty() && outputs.size() != outs.size())) {
        return Status::failed("one buffer per tensor is needed");
      }
      for (std::size_t i = 0; i < ins.size(); ++i) {
        slot.request.set_input_tensor(
            i, inputs.empty() ? slot.tensors[i] : ov::Tensor(ins[i].get_element_type(), ins[i].get_shape(), inputs[i].data));
      }
      for (std::size_t i = 0; i < outs.size(); ++i) {
        slot.request.set_output_tensor(i, outputs.empty() ? slot.tensors[ins.size() + i]
                                                          : ov::Tensor(outs[i].get_element_type(), outs[i].get_shape(),
                                                                       outputs[i].data));
      }
      return Status::ok();
    } catch (const std::exception& e) {
      restore(slot);
      return Status::failed("set_tensor: " + clean_message(e.what()));
    } catch (...) {
      restore(slot);
      return Status::failed("set_tensor: unknown error");
    }
  }

  // After a refused bind: the slot's own tensors (never half the caller's memory, which the window
  // would not keep alive).
  void restore(OvSlot& slot) noexcept {
    try {
      const std::size_t n_in = compiled_.inputs().size();
      for (std::size_t i = 0; i < slot.tensors.size(); ++i) {
        if (i < n_in) {
          slot.request.set_input_tensor(i, slot.tensors[i]);
        } else {
          slot.request.set_output_tensor(i - n_in, slot.tensors[i]);
        }
      }
    } catch (...) {  // NOLINT(bugprone-empty-catch): the same tensors were accepted at creation
    }
  }

  // The hot path: no allocation, no tensor or property calls. OpenVINO queues requests beyond the
  // device's streams itself, so it never answers "busy".
  Status submit(core::Slot& s) noexcept override {
    auto& slot = static_cast<OvSlot&>(s);
    try {
      slot.request.start_async();
      return Status::ok();
    } catch (const std::exception& e) {
      return Status::failed("start_async: " + clean_message(e.what()));
    } catch (...) {
      return Status::failed("start_async: unknown error");
    }
  }

  Status wait(core::Slot& s, std::chrono::microseconds timeout) noexcept override {
    auto& slot = static_cast<OvSlot&>(s);
    // OpenVINO waits in whole milliseconds: round up so a short wait never becomes a poll.
    // (A negative wait would trip an OpenVINO assertion: treat it as a poll.)
    const std::chrono::milliseconds ms{timeout.count() > 0 ? (timeout.count() + 999) / 1000 : 0};
    try {
      return slot.request.wait_for(ms) ? Status::ok() : Status::pending();
    } catch (const std::exception& e) {  // wait_for rethrows the job's own failure
      return Status::failed(clean_message(e.what()));
    } catch (...) {
      return Status::failed("inference failed with an unknown error");
    }
  }

  // OpenVINO calls a request's callback on its callback thread once the request is idle again, and
  // only then lets wait() return: exactly the contract notify_when_done asks for.
  bool notify_when_done(core::Slot& s, std::function<void()> done) noexcept override {
    auto& slot = static_cast<OvSlot&>(s);
    try {
      slot.request.set_callback([done = std::move(done)](std::exception_ptr) noexcept { done(); });
      return true;
    } catch (...) {
      return false;  // callers fall back to waiting in submission order
    }
  }

  Status run(core::Slot& s) noexcept override {
    auto& slot = static_cast<OvSlot&>(s);
    try {
      slot.request.infer();
      return Status::ok();
    } catch (const std::exception& e) {
      return Status::failed(clean_message(e.what()));
    } catch (...) {
      return Status::failed("inference failed with an unknown error");
    }
  }

 private:
  static void reshape(ov::Model& model, const std::vector<std::pair<std::string, ov::Shape>>& shapes) {
    std::map<ov::Output<ov::Node>, ov::PartialShape> target;
    for (const auto& [name, dims] : shapes) {
      if (name.empty()) {
        if (model.inputs().size() != 1) {
          throw std::invalid_argument("option shape: the model has " + std::to_string(model.inputs().size()) +
                                      " inputs: name each one, e.g. 'input:[1,3,224,224]'");
        }
        target[model.input(0)] = ov::PartialShape(dims);
        continue;
      }
      bool found = false;
      for (const auto& port : model.inputs()) {
        if (port.get_names().count(name) != 0) {
          target[port] = ov::PartialShape(dims);
          found = true;
        }
      }
      if (!found) {
        std::string known;
        for (std::size_t i = 0; i < model.inputs().size(); ++i) {
          known += (i ? ", " : "") + port_name(model.input(i), "input", i);
        }
        throw std::invalid_argument("option shape: the model has no input '" + name + "' (its inputs: " + known + ")");
      }
    }
    try {
      model.reshape(target);
    } catch (const std::exception& e) {
      throw std::invalid_argument("option shape: the model cannot take these shapes: " + clean_message(e.what()));
    }
  }

  static void require_static(const ov::Model& model) {
    for (std::size_t i = 0; i < model.inputs().size(); ++i) {
      const ov::PartialShape& ps = model.input(i).get_partial_shape();
      if (ps.is_static()) continue;
      const std::string name = port_name(model.input(i), "input", i);
      std::string example;
      if (ps.rank().is_static()) {
        for (std::size_t d = 0; d < ps.size(); ++d) {
          example += (d ? "," : "") + (ps[d].is_static() ? std::to_string(ps[d].get_length()) : std::string("1"));
        }
      } else {
        example = "1,...";
      }
      throw std::runtime_error("input '" + name + "' has a dynamic shape " + ps.to_string() +
                               "; the openvino engine needs static shapes: give one with the shape option, e.g. "
                               "shape='" + name + ":[" + example + "]' (vart-async-bench: --shape '" + name +
                               ":[" + example + "]')");
    }
    for (std::size_t i = 0; i < model.outputs().size(); ++i) {
      const ov::PartialShape& ps = model.output(i).get_partial_shape();
      if (ps.is_dynamic()) {
        throw std::runtime_error("output '" + port_name(model.output(i), "output", i) + "' has a dynamic shape " +
                                 ps.to_string() + " even with static inputs: not supported (job slots need fixed-size "
                                 "output buffers)");
      }
    }
  }

  static core::TensorSpec spec(const ov::Output<const ov::Node>& port, std::string name) {
    core::TensorSpec t;
    t.dtype = to_dtype(port.get_element_type(), name);
    t.name = std::move(name);
    const ov::Shape& shape = port.get_shape();
    t.shape.assign(shape.begin(), shape.end());
    t.layout = layout_text(port);
    t.nbytes = ov::shape_size(shape) * core::dtype_size(t.dtype);
    return t;
  }

  // One 64-byte-aligned buffer we own, wrapped (not copied) as the tensor the request uses.
  static ov::Tensor wrap(OvSlot& slot, const ov::Output<const ov::Node>& port, const core::TensorSpec& spec,
                         bool input) {
    const std::size_t size = std::max<std::size_t>(kAlign, (spec.nbytes + kAlign - 1) / kAlign * kAlign);
    AlignedBytes mem(static_cast<std::byte*>(std::aligned_alloc(kAlign, size)));
    if (!mem) throw std::runtime_error("cannot allocate " + std::to_string(size) + " bytes for tensor '" + spec.name + "'");
    std::memset(mem.get(), 0, size);
    ov::Tensor tensor(port.get_element_type(), port.get_shape(), mem.get());
    slot.add(input, core::Buffer{mem.get(), spec.nbytes});
    slot.memory.push_back(std::move(mem));
    slot.tensors.push_back(tensor);
    return tensor;
  }

  // Every property the compiled model reports (read-only and read-write), as OpenVINO prints them;
  // the device name first. What the caller asked for is reported next to it by the Python side.
  void report_properties(const std::string& device) {
    info_.properties.emplace_back("DEVICE", device);
    try {
      info_.properties.emplace_back("FULL_DEVICE_NAME", core_.get_property(device, ov::device::full_name));
    } catch (const std::exception&) {
      // a device (or virtual device) that does not report a name
    }
    std::vector<ov::PropertyName> names;
    try {
      names = compiled_.get_property(ov::supported_properties);
    } catch (const std::exception&) {
      return;  // a device that lists nothing
    }
    for (const ov::PropertyName& name : names) {
      if (name == ov::supported_properties.name()) continue;
      try {
        info_.properties.emplace_back(name, compiled_.get_property(name).as<std::string>());
      } catch (const std::exception&) {
        // listed but not readable as text on this device
      }
    }
  }

  ov::Core core_;
  ov::CompiledModel compiled_;
  core::EngineInfo info_;
};

}  // namespace

const char* openvino_build_version() noexcept { return VART_ASYNC_OPENVINO_VERSION; }

std::string openvino_runtime_version() {
  const std::string build = ov::get_openvino_version().buildNumber;
  return build.substr(0, build.find('-'));
}

std::unique_ptr<core::Engine> create_openvino_engine(const std::string& model,
                                                     const std::map<std::string, std::string>& options) {
  try {
    std::unique_ptr<core::Engine> engine;
    on_own_thread([&] { engine = std::make_unique<OpenVinoEngine>(model, options); });
    return engine;
  } catch (const std::invalid_argument&) {
    throw;  // ours: a bad option
  } catch (const std::exception& e) {
    // OpenVINO's exception types must not cross the module boundary: rethrow as std::runtime_error.
    throw std::runtime_error(clean_message(e.what()));
  }
}

}  // namespace vart_async::engines
