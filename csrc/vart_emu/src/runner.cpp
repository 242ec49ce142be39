// EmuRunner creation (options, tensor types, compute units), metadata, and RunnerFactory.
#include "runner.hpp"

#include <iomanip>
#include <map>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <typeinfo>

#include "names.hpp"

#ifndef VART_EMU_VERSION
#define VART_EMU_VERSION "0.0.0-emu"
#endif

namespace vart::emu {
namespace {

using Options = std::unordered_map<std::string, std::any>;

// Keys the real runtime understands; the emulator accepts them and has no use for them.
constexpr const char* kIgnoredKeys[] = {
    "name",        "aie_columns_sharing",   "start_column",      "config_json",
    "cma_index",   "ai_analyzer_profiling", "xdna_device_index", "debug",
    "no_failsafe", "callback_order",        "skip_in_bo_sync",   "skip_out_bo_sync"};

const std::string kInputType = "input_tensor_type";
const std::string kOutputType = "output_tensor_type";

// The runtime any_casts option values, so only an exact std::string is a string.
std::string option_string(const std::string& key, const std::any& value) {
  if (const auto* s = std::any_cast<std::string>(&value)) return *s;
  std::string hint;
  if (value.type() == typeid(const char*) || value.type() == typeid(char*)) {
    hint = " (got a C string: pass std::string(\"...\"))";
  }
  throw std::runtime_error("vart-emu: option '" + key + "' must be a std::string" + hint);
}

TensorType option_tensor_type(const std::string& key, const std::any& value) {
  const std::string s = option_string(key, value);
  const std::string upper = to_upper(s);
  if (upper == "HW") return TensorType::HW;
  if (upper == "CPU") return TensorType::CPU;
  throw std::runtime_error("vart-emu: option '" + key + "' must be \"HW\" or \"CPU\" (got '" + s + "')");
}

LogLevel option_log_level(const Options& options) {
  const auto it = options.find("log_level");
  if (it == options.end()) return LogLevel::kWarning;
  const std::string s = option_string(it->first, it->second);
  const auto level = parse_log_level(s);
  if (!level) {
    throw std::runtime_error("vart-emu: option 'log_level' must be ERROR, WARNING, INFO or DEBUG (got '" + s + "')");
  }
  return *level;
}

bool has_prefix(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// The view each boundary tensor is exchanged in, from the tensor-type options.
std::vector<NpuTensorInfo> accepted_views(const Model& m, const Options& options, bool input, const Logger& log) {
  const std::string& key = input ? kInputType : kOutputType;
  const std::vector<TensorDesc>& tensors = input ? m.inputs : m.outputs;
  TensorType all = TensorType::HW;
  std::map<std::string, TensorType> one;
  for (const auto& [k, v] : options) {
    if (k == key) {
      all = option_tensor_type(k, v);
    } else if (has_prefix(k, key + ".")) {
      const std::string name = k.substr(key.size() + 1);
      bool known = false;
      std::string have;
      for (const TensorDesc& t : tensors) {
        known = known || t.hw.name == name;
        have += (have.empty() ? "'" : ", '") + t.hw.name + "'";
      }
      if (!known) {
        throw std::runtime_error("vart-emu: option '" + k + "': the model has no " + (input ? "input" : "output") +
                                 " tensor named '" + name + "' (its " + (input ? "inputs" : "outputs") + ": " + have +
                                 ")");
      }
      one[name] = option_tensor_type(k, v);
    }
  }
  std::vector<NpuTensorInfo> views;
  for (const TensorDesc& t : tensors) {
    const auto it = one.find(t.hw.name);
    const TensorType type = it != one.end() ? it->second : all;
    if (type == TensorType::HW && !t.has_hw) {
      throw std::runtime_error("vart-emu: " + m.path + ": " + (input ? "input" : "output") + " tensor '" + t.hw.name +
                               "' is " + (input ? "consumed" : "produced") +
                               " by a CPU subgraph and has no HW view; create the runner with " + key + "=CPU");
    }
    views.push_back(type == TensorType::HW ? t.hw : t.cpu);
    if (log.enabled(LogLevel::kDebug)) {
      log.debug(std::string(input ? "input" : "output") + " tensor '" + t.hw.name + "' is exchanged in its " +
                std::string(to_string(type)) + " view");
    }
  }
  return views;
}

void log_other_options(const Options& options, const Logger& log) {
  for (const auto& item : options) {
    const std::string& k = item.first;
    if (k == "log_level" || k == kInputType || k == kOutputType || has_prefix(k, kInputType + ".") ||
        has_prefix(k, kOutputType + ".")) {
      continue;
    }
    bool known = false;
    for (const char* i : kIgnoredKeys) known = known || k == i;
    if (known) {
      log.debug("option '" + k + "' has no effect in the emulator: ignored");
    } else {
      log.warning("unknown option '" + k + "': ignored");
    }
  }
}

std::shared_ptr<Device> make_device(const std::string& path, const Options& options) {
  const Logger log(option_log_level(options));
  Model model = load_model(path);
  if (model.faults.fail_create) throw std::runtime_error(*model.faults.fail_create);
  std::vector<NpuTensorInfo> in = accepted_views(model, options, /*input=*/true, log);
  std::vector<NpuTensorInfo> out = accepted_views(model, options, /*input=*/false, log);
  std::vector<ViewConversion> in_conv, out_conv;
  for (std::size_t i = 0; i < in.size(); ++i) {
    in_conv.push_back(plan_conversion(model.inputs[i], in[i].tensor_type, model.path, /*input=*/true));
  }
  for (std::size_t o = 0; o < out.size(); ++o) {
    out_conv.push_back(plan_conversion(model.outputs[o], out[o].tensor_type, model.path, /*input=*/false));
  }
  log_other_options(options, log);
  return std::make_shared<Device>(std::move(model), std::move(in), std::move(out), std::move(in_conv),
                                  std::move(out_conv), log);
}

const std::vector<NpuTensorInfo>& no_tensors() {
  static const std::vector<NpuTensorInfo> kEmpty;
  return kEmpty;
}

}  // namespace

EmuRunner::EmuRunner(const std::string& model_path, const Options& options)
    : Runner(model_path, options), device_(make_device(model_path, options)) {
  const Model& m = device_->model();
  for (const TensorDesc& t : m.inputs) {
    if (t.has_hw) hw_in_.push_back(t.hw);
    cpu_in_.push_back(t.cpu);
  }
  for (const TensorDesc& t : m.outputs) {
    if (t.has_hw) hw_out_.push_back(t.hw);
    cpu_out_.push_back(t.cpu);
  }
  try {
    for (std::size_t i = 0; i < m.compute_units; ++i) {
      workers_.emplace_back([device = device_, unit = static_cast<int>(i)] { device->work(unit); });
    }
  } catch (const std::system_error& e) {
    device_->stop();
    for (auto& t : workers_) t.join();
    throw std::runtime_error(std::string("vart-emu: cannot start the compute unit threads: ") + e.what());
  }
  if (device_->log().enabled(LogLevel::kInfo)) {
    std::ostringstream os;
    os << std::setprecision(12) << "VART-ML emulator: no NPU is used. Model '" << m.name << "' (" << m.path
       << "): " << m.compute_units << " compute unit(s), " << m.execution_slots << " execution slot(s), "
       << m.service_time_us << " us per job";
    device_->log().info(os.str());
  }
}

EmuRunner::~EmuRunner() {
  // Every queued and running job finishes before the workers exit, so no job outlives the buffers
  // its caller frees after destroying the runner.
  device_->stop();
  const std::thread::id self = std::this_thread::get_id();
  for (auto& t : workers_) {
    // A callback holding the last reference destroys the runner on its own worker thread; that
    // worker keeps the Device alive and exits by itself.
    if (t.get_id() == self) {
      t.detach();
    } else {
      t.join();
    }
  }
}

const std::vector<NpuTensorInfo>& EmuRunner::get_tensors_info(TensorDirection direction, TensorType type) const {
  const bool in = direction == TensorDirection::INPUT;
  if (!in && direction != TensorDirection::OUTPUT) return no_tensors();
  if (type == TensorType::HW) return in ? hw_in_ : hw_out_;
  if (type == TensorType::CPU) return in ? cpu_in_ : cpu_out_;
  return no_tensors();
}

const TensorDesc* EmuRunner::find(const std::string& name) const noexcept {
  for (const auto* list : {&device_->model().inputs, &device_->model().outputs}) {
    for (const TensorDesc& t : *list) {
      if (t.hw.name == name) return &t;
    }
  }
  return nullptr;
}

const NpuTensorInfo& EmuRunner::get_tensor_info_by_name(const std::string& tensor_name, TensorType type) const {
  const TensorDesc* t = find(tensor_name);
  if (t == nullptr) throw std::runtime_error("vart-emu: the model has no tensor named '" + tensor_name + "'");
  if (type == TensorType::CPU) return t->cpu;
  if (type != TensorType::HW) throw std::runtime_error("vart-emu: invalid TensorType");
  if (!t->has_hw) {
    throw std::runtime_error("vart-emu: tensor '" + tensor_name + "' has no HW view (a CPU subgraph exchanges it)");
  }
  return t->hw;
}

const QuantParameters& EmuRunner::get_quant_parameters(const std::string& tensor_name) const {
  const TensorDesc* t = find(tensor_name);
  if (t == nullptr) throw std::runtime_error("vart-emu: the model has no tensor named '" + tensor_name + "'");
  if (!t->quant) throw std::runtime_error("vart-emu: tensor '" + tensor_name + "' has no quantization parameters");
  return *t->quant;
}

size_t EmuRunner::get_num_input_tensors() const { return device_->model().inputs.size(); }
size_t EmuRunner::get_num_output_tensors() const { return device_->model().outputs.size(); }
size_t EmuRunner::get_batch_size() const { return device_->model().batch_size; }

size_t EmuRunner::get_batch_size(TensorDirection direction) const {
  return direction == TensorDirection::OUTPUT ? device_->model().output_batch_size : device_->model().batch_size;
}

std::any EmuRunner::get_property(const std::string& key) const {
  const Model& m = device_->model();
  if (key == "model_name") return m.name;
  if (key == "emulator") return true;
  if (key == "runtime") return std::string("VART-ML emulator " VART_EMU_VERSION " (no NPU)");
  if (key == "compute_units") return m.compute_units;
  if (key == "execution_slots") return m.execution_slots;
  if (key == "service_time_us") return m.service_time_us;
  // The emulator's own: when the emulated device ran a finished job (one of the last 4096), as
  // DeviceTimes {start ns, end ns (steady clock), compute unit}; "device_times" alone says it can.
  if (key == "device_times") return true;
  if (key.rfind("device_times:", 0) == 0) {
    DeviceTimes t{};
    std::uint32_t id = 0;
    try {
      id = static_cast<std::uint32_t>(std::stoul(key.substr(13)));
    } catch (const std::exception&) {
      throw std::invalid_argument("Unknown property: " + key);
    }
    if (!device_->device_times(id, t)) throw std::invalid_argument("no device times for job " + key.substr(13));
    return t;
  }
  throw std::invalid_argument("Unknown property: " + key);
}

}  // namespace vart::emu

namespace vart {

std::shared_ptr<Runner> RunnerFactory::create_runner(RunnerType runner_type, const std::string& model_path,
                                                     const std::unordered_map<std::string, std::any>& options) {
  if (runner_type != RunnerType::VAIML) throw std::runtime_error("Unsupported runner type for Runner creation");
  return std::make_shared<emu::EmuRunner>(model_path, options);
}

}  // namespace vart
