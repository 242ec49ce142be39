// The seam between the pipeline and a runtime. Pure C++17: no Python, no VART, no OpenVINO.
//
// Engines live in their own extension modules (so `import vart_async` never needs a runtime), and
// their objects cross module boundaries as raw pointers. Therefore nothing here may rely on RTTI
// across modules: engines report problems through Status values, and throw only standard library
// exception types (std::runtime_error, std::invalid_argument) from construction and create_slot().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vart_async::core {

// Element types, named as numpy names them ("bfloat16" has no numpy dtype: Python views it as uint16).
enum class DType : std::uint8_t {
  kBool,
  kInt8,
  kUInt8,
  kInt16,
  kUInt16,
  kBFloat16,
  kFloat16,
  kInt32,
  kUInt32,
  kFloat32,
  kInt64,
  kUInt64,
};

constexpr std::size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::kBool:
    case DType::kInt8:
    case DType::kUInt8: return 1;
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kBFloat16:
    case DType::kFloat16: return 2;
    case DType::kInt32:
    case DType::kUInt32:
    case DType::kFloat32: return 4;
    case DType::kInt64:
    case DType::kUInt64: return 8;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) noexcept {
  switch (t) {
    case DType::kBool: return "bool";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
    case DType::kInt16: return "int16";
    case DType::kUInt16: return "uint16";
    case DType::kBFloat16: return "bfloat16";
    case DType::kFloat16: return "float16";
    case DType::kInt32: return "int32";
    case DType::kUInt32: return "uint32";
    case DType::kFloat32: return "float32";
    case DType::kInt64: return "int64";
    case DType::kUInt64: return "uint64";
  }
  return "unknown";
}

// How a runtime quantizes a tensor: q = saturate(round(x / scale) + zero_point), x = (q - zero_point) * scale.
enum class Rounding : std::uint8_t { kUnknown, kNearestEven, kTowardZero };
struct Quant {
  double scale = 0;
  std::int32_t zero_point = 0;
  Rounding rounding = Rounding::kUnknown;
};

// One of a runtime's views of a tensor (VART: the HW view the NPU exchanges, the CPU view of the
// ONNX model), batch rows included as in TensorSpec::shape.
struct TensorView {
  DType dtype = DType::kUInt8;
  std::vector<std::int64_t> shape;
  std::string layout;
};

// One model input or output as a job slot holds it: all batch rows, one contiguous buffer.
struct TensorSpec {
  std::string name;
  DType dtype = DType::kUInt8;
  std::vector<std::int64_t> shape;    // the slot array's shape, batch rows included
  std::string layout;                 // runtime's layout name ("NHWC", "NCHW", ...), may be empty
  std::size_t nbytes = 0;             // whole slot buffer (all batch rows)
  std::optional<Quant> quant;         // when the runtime has quantization parameters for it
  std::optional<TensorView> hw, cpu;  // the runtime's views, when it has two (VART)
};

struct EngineInfo {
  std::string engine;          // "vart", "openvino"
  std::string model;           // what was opened (path)
  std::string model_name;      // what the runtime calls it
  std::string runtime;         // human description, e.g. "VART-ML emulator 0.4 (no NPU)"
  bool emulated = false;       // true when no real accelerator runtime is behind the engine
  std::size_t batch_size = 1;         // input rows one job processes
  std::size_t output_batch_size = 1;  // output rows one job writes (VART: may differ from batch_size)
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::vector<std::pair<std::string, std::string>> properties;  // runtime settings worth reporting
  // What the engine asked the runtime for, in the runtime's own keys (OpenVINO: the compile_model
  // properties after the options were parsed), so a report can be rerun and compared with `properties`.
  std::vector<std::pair<std::string, std::string>> requested;
  double read_s = -1;     // reading the model (seconds); -1: the engine cannot tell it apart
  double compile_s = -1;  // compiling / loading it for the device; -1: the engine cannot tell
};

struct Status {
  enum class Code : std::uint8_t { kOk, kPending, kBusy, kFailed };
  Code code = Code::kOk;
  std::string message;  // empty unless kFailed (or a busy reason worth telling)

  static Status ok() { return {}; }
  static Status pending() { return {Code::kPending, {}}; }
  static Status busy(std::string why = {}) { return {Code::kBusy, std::move(why)}; }
  static Status failed(std::string why) { return {Code::kFailed, std::move(why)}; }
  bool is_ok() const noexcept { return code == Code::kOk; }
};

struct DeviceTimes {
  std::chrono::steady_clock::time_point start{}, end{};
  int unit = -1;  // compute unit; -1 unknown
};

struct Buffer {
  std::byte* data = nullptr;
  std::size_t nbytes = 0;
};

// The buffers of one job slot, allocated by (and only usable with) the engine that made it.
// The engine's subclass also keeps whatever the runtime needs to track the slot's job.
class Slot {
 public:
  virtual ~Slot() = default;
  const std::vector<Buffer>& inputs() const noexcept { return inputs_; }
  const std::vector<Buffer>& outputs() const noexcept { return outputs_; }

  // Kept by the job window while the slot is bound to a caller's memory (Engine::bind): whatever
  // keeps that memory alive. Dropped when the slot is bound again, or with the slot (which a job
  // that never finished keeps forever).
  std::shared_ptr<const void> caller_memory;
  bool bound = false;

 protected:
  std::vector<Buffer> inputs_;
  std::vector<Buffer> outputs_;
};

// One loaded model on one runtime. Calls for different slots may come from different threads, but
// never two at once for the same slot; the pipeline guarantees a slot is submitted only when idle.
class Engine {
 public:
  virtual ~Engine() = default;

  virtual const EngineInfo& info() const noexcept = 0;

  // Allocates the buffers of one job slot. Throws std::runtime_error on failure.
  virtual std::unique_ptr<Slot> create_slot() = 0;

  // Starts the slot's job without blocking. kOk: in flight. kBusy: the runtime has no free execution
  // resource right now (not an error; retry later). kFailed: the job was not started.
  virtual Status submit(Slot& slot) noexcept = 0;

  // Waits up to `timeout` (0 = poll) for the slot's job. kOk: done, outputs valid, slot idle again.
  // kPending: still running (may be called again). kFailed: the job failed; slot idle again.
  virtual Status wait(Slot& slot, std::chrono::microseconds timeout) noexcept = 0;

  // Runs the slot's job synchronously. kOk or kFailed.
  virtual Status run(Slot& slot) noexcept = 0;

  // Optional. Arranges for `done` to be called each time a job submitted on `slot` finishes, before
  // wait() on it can return kOk/kFailed, so a caller can learn which job finished first instead of
  // waiting in submission order. `done` runs on a runtime thread: it must be quick, must not throw
  // and must not call the engine. Called only while the slot is idle. Returns false when the
  // runtime cannot tell (the default): callers then wait in submission order.
  virtual bool notify_when_done(Slot& slot, std::function<void()> done) noexcept {
    (void)slot;
    (void)done;
    return false;
  }

  // Optional: jobs over the caller's memory instead of the slot's own buffers. Why tensor `i` of
  // the inputs (`input`) or outputs cannot be the caller's memory; empty when it can. The default:
  // this engine runs jobs on its own buffers only.
  virtual std::string bind_refusal(bool input, std::size_t i) const {
    (void)input;
    (void)i;
    return "this engine runs jobs on its own buffers only";
  }

  // Optional. The slot's next jobs read their inputs from `inputs` and write their outputs to
  // `outputs` (one Buffer per tensor, each of the slot buffer's size, valid until the slot is bound
  // again) instead of the slot's own buffers; an empty vector keeps that side's own buffers, and
  // two empty vectors give the slot its own buffers back. Input buffers are only read. Called only
  // while the slot's job is not in flight. kFailed (nothing changed) when the runtime refuses.
  virtual Status bind(Slot& slot, const std::vector<Buffer>& inputs, const std::vector<Buffer>& outputs) noexcept {
    (void)slot;
    if (inputs.empty() && outputs.empty()) return Status::ok();
    return Status::failed(bind_refusal(!inputs.empty(), 0));
  }

  // Optional. After wait() or run() returned kOk/kFailed for the slot's last job: when the device
  // ran it (host steady clock) and on which compute unit. False when the runtime cannot tell (the
  // default); called from the thread that collected the job, before the slot is used again.
  virtual bool device_times(const Slot& slot, DeviceTimes& out) noexcept {
    (void)slot;
    (void)out;
    return false;
  }
};

}  // namespace vart_async::core
