// ov_raw_loop: the fastest plain C++ async loop over OpenVINO we know how to write — "our limit"
// when comparing vart_async's OpenVINO engine with benchmark_app and AsyncInferQueue.
//
//   ov_raw_loop MODEL [--jobs K] [--time SECONDS] [--device CPU] [--order fifo|any] [--frames N]
//               [--spin US] [PROPERTY=VALUE ...]
//
// PROPERTY=VALUE pairs go to compile_model as OpenVINO properties (strings), e.g.
//   PERFORMANCE_HINT=LATENCY NUM_STREAMS=2 INFERENCE_NUM_THREADS=2 INFERENCE_PRECISION_HINT=f32
//   ENABLE_CPU_PINNING=NO
// (with no PERFORMANCE_HINT the device default applies, like vart_async's hint="none").
//
// What it does: K infer requests, each with 64-byte-aligned input and output buffers wrapped once
// as ov::Tensors and set once (benchmark_app's inference-only mode; inputs are zeros). One warm-up
// round, then: prime all K, and in FIFO order wait for the oldest request and restart it until
// the time is up, then drain. --order any instead restarts whichever request finishes first (a
// completion callback queues its index, like AsyncInferQueue and benchmark_app): when one stream
// is slowed (another process on its core), FIFO leaves the fast stream idle while it waits for
// the slow one; "any" keeps it busy. --frames N streams instead of replaying: before each
// submission the request's input buffers get the next of N distinct pre-made frames (memcpy) and
// after each completion its outputs are copied out — what a C++ feed behind a streaming API costs.
// --spin US (with --order any) polls the queue of finished requests for up to US microseconds,
// yielding the core, before it blocks — the technique vart_async's loop uses (adaptively there), so
// the comparison with "our limit" is like for like. Duration = first submit to the last completion seen by the host
// (vart_async's definition). Prints one JSON object: iterations, duration_s, fps, mean_latency_us
// (submit to completion seen), jobs and the compiled model's properties.
//
// How it is built: no CMake target. benchmarks/ov_raw_loop.py compiles it against the installed
// openvino wheel at benchmark time (`python benchmarks/ov_raw_loop.py --build-only` prints the
// g++ command), i.e.
//   g++ -O2 -std=c++17 -I$OV/include benchmarks/ov_raw_loop.cpp $OV/libs/libopenvino.so.2641 \
//       -Wl,-rpath,$OV/libs -o ov_raw_loop          (OV = the openvino package folder)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <deque>
#include <string>
#include <vector>

#include <openvino/openvino.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "ov_raw_loop: %s\nusage: ov_raw_loop MODEL [--jobs K] [--time S] [--device D] [--order fifo|any] "
               "[--frames N] [KEY=VALUE ...]\n",
               why);
  std::exit(2);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage("no model given");
  const std::string model_path = argv[1];
  std::size_t jobs = 2;
  double seconds = 3.0;
  std::string device = "CPU";
  bool any_order = false;
  std::size_t n_frames = 0;
  long spin_us = 0;
  ov::AnyMap config;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--jobs" && has_value) {
      jobs = std::strtoul(argv[++i], nullptr, 10);
    } else if (arg == "--time" && has_value) {
      seconds = std::strtod(argv[++i], nullptr);
    } else if (arg == "--device" && has_value) {
      device = argv[++i];
    } else if (arg == "--spin" && has_value) {
      spin_us = std::strtol(argv[++i], nullptr, 10);
    } else if (arg == "--frames" && has_value) {
      n_frames = std::strtoul(argv[++i], nullptr, 10);
    } else if (arg == "--order" && has_value) {
      const std::string order = argv[++i];
      if (order != "fifo" && order != "any") usage("--order is fifo or any");
      any_order = order == "any";
    } else if (arg.find('=') != std::string::npos) {
      config[arg.substr(0, arg.find('='))] = arg.substr(arg.find('=') + 1);
    } else {
      usage(("unexpected argument " + arg).c_str());
    }
  }
  if (jobs == 0 || !(seconds > 0)) usage("--jobs must be >= 1 and --time > 0");
  if (spin_us < 0 || (spin_us > 0 && !any_order)) usage("--spin needs --order any and is >= 0");

  try {
    ov::Core core;
    ov::CompiledModel compiled = core.compile_model(model_path, device, config);

    std::vector<std::unique_ptr<void, FreeDeleter>> memory;
    std::vector<ov::InferRequest> requests(jobs);
    auto wrap = [&](const ov::Output<const ov::Node>& port) {
      const std::size_t size = ov::shape_size(port.get_shape()) * port.get_element_type().size();
      const std::size_t bytes = std::max<std::size_t>(64, (size + 63) / 64 * 64);
      memory.emplace_back(std::aligned_alloc(64, bytes));
      std::memset(memory.back().get(), 0, bytes);
      return ov::Tensor(port.get_element_type(), port.get_shape(), memory.back().get());
    };
    // --frames: N frames per input (filled with a different byte each) and one output sink per output.
    std::vector<std::vector<std::vector<unsigned char>>> frames(compiled.inputs().size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const auto& port = compiled.input(i);
      const std::size_t bytes = ov::shape_size(port.get_shape()) * port.get_element_type().size();
      for (std::size_t f = 0; f < n_frames; ++f) frames[i].emplace_back(bytes, static_cast<unsigned char>(f % 61));
    }
    std::vector<std::vector<unsigned char>> sinks;
    for (const auto& port : compiled.outputs()) {
      sinks.emplace_back(ov::shape_size(port.get_shape()) * port.get_element_type().size());
    }
    std::uint64_t next_frame = 0;
    auto stage = [&](ov::InferRequest& r) {
      if (n_frames == 0) return;
      const std::size_t f = next_frame++ % n_frames;
      for (std::size_t i = 0; i < frames.size(); ++i) {
        std::memcpy(r.get_input_tensor(i).data(), frames[i][f].data(), frames[i][f].size());
      }
    };
    auto collect = [&](ov::InferRequest& r) {
      for (std::size_t i = 0; i < sinks.size(); ++i) {
        std::memcpy(sinks[i].data(), r.get_output_tensor(i).data(), sinks[i].size());
      }
    };
    for (auto& r : requests) {
      r = compiled.create_infer_request();
      for (std::size_t i = 0; i < compiled.inputs().size(); ++i) r.set_input_tensor(i, wrap(compiled.input(i)));
      for (std::size_t i = 0; i < compiled.outputs().size(); ++i) r.set_output_tensor(i, wrap(compiled.output(i)));
    }

    // "any" order: callbacks (on OpenVINO's callback thread) queue the index of a finished request.
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::size_t> finished;
    std::atomic<std::size_t> n_finished{0};
    if (any_order) {
      for (std::size_t k = 0; k < jobs; ++k) {
        requests[k].set_callback([&mutex, &cv, &finished, &n_finished, k](std::exception_ptr) {
          {
            std::lock_guard<std::mutex> lock(mutex);
            finished.push_back(k);
            n_finished.store(finished.size(), std::memory_order_release);
          }
          cv.notify_one();
        });
      }
    }
    auto next_done = [&](std::size_t fifo_next) {
      if (!any_order) return fifo_next;
      const Clock::time_point spin_until = Clock::now() + std::chrono::microseconds(spin_us);
      while (spin_us > 0 && n_finished.load(std::memory_order_acquire) == 0 && Clock::now() < spin_until) {
        std::this_thread::yield();
      }
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return !finished.empty(); });
      const std::size_t k = finished.front();
      finished.pop_front();
      n_finished.store(finished.size(), std::memory_order_release);
      return k;
    };

    for (auto& r : requests) r.start_async();  // warm-up round
    for (auto& r : requests) r.wait();
    finished.clear();  // every callback has returned: wait() is only ready after it
    n_finished.store(0);

    std::vector<Clock::time_point> submitted(jobs);
    std::uint64_t iterations = 0;
    double latency_sum_us = 0;
    const Clock::time_point start = Clock::now();
    const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    for (std::size_t k = 0; k < jobs; ++k) {
      submitted[k] = Clock::now();
      stage(requests[k]);
      requests[k].start_async();
    }
    Clock::time_point last_done = start;
    std::size_t in_flight = jobs;
    for (std::size_t fifo = 0; in_flight > 0; fifo = (fifo + 1) % jobs) {
      const std::size_t k = next_done(fifo);
      requests[k].wait();  // "any": the index is queued inside the callback, before the request is ready
      if (n_frames > 0) collect(requests[k]);
      last_done = Clock::now();
      ++iterations;
      latency_sum_us += std::chrono::duration<double, std::micro>(last_done - submitted[k]).count();
      if (last_done < deadline) {
        submitted[k] = Clock::now();
        stage(requests[k]);
        requests[k].start_async();
      } else {
        --in_flight;
      }
    }
    const double duration = std::chrono::duration<double>(last_done - start).count();

    std::printf("{\"tool\": \"ov_raw_loop\", \"openvino\": \"%s\", \"model\": \"%s\", \"device\": \"%s\", "
                "\"jobs\": %zu, \"order\": \"%s\", \"frames\": %zu, \"spin_us\": %ld, \"iterations\": %llu, \"duration_s\": %.6f, \"fps\": %.3f, "
                "\"mean_latency_us\": %.3f, \"properties\": {",
                json_escape(ov::get_openvino_version().buildNumber).c_str(), json_escape(model_path).c_str(),
                json_escape(device).c_str(), jobs, any_order ? "any" : "fifo", n_frames, spin_us, static_cast<unsigned long long>(iterations), duration,
                iterations / duration, latency_sum_us / static_cast<double>(iterations));
    const char* const keys[] = {"NUM_STREAMS", "INFERENCE_NUM_THREADS", "PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT",
                                "OPTIMAL_NUMBER_OF_INFER_REQUESTS", "ENABLE_CPU_PINNING"};
    bool first = true;
    for (const char* key : keys) {
      try {
        const std::string value = compiled.get_property(key).as<std::string>();
        std::printf("%s\"%s\": \"%s\"", first ? "" : ", ", key, json_escape(value).c_str());
        first = false;
      } catch (const std::exception&) {
        // not reported by this device
      }
    }
    std::printf("}}\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ov_raw_loop: %s\n", e.what());
    return 1;
  }
  return 0;
}
