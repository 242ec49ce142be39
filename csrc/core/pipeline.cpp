#include "core/pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/arrivals.hpp"
#include "core/completer.hpp"
#include "core/pipeline_detail.hpp"

namespace vart_async::core {
namespace {

using namespace detail;

// Objects a job that never finished may still use: they are never destroyed (not even at exit,
// where the runtime could still be writing into them), yet stay reachable, so leak checkers don't
// mistake this deliberate choice for a leak.
void keep_forever(std::shared_ptr<void> object) {
  static std::mutex mutex;
  static auto* kept = new std::vector<std::shared_ptr<void>>();
  const std::lock_guard<std::mutex> lock(mutex);
  kept->push_back(std::move(object));
}

std::uint64_t slot_bytes(const EngineInfo& info) {
  std::uint64_t total = 0;
  for (const auto* specs : {&info.inputs, &info.outputs}) {
    for (const TensorSpec& t : *specs) total += t.nbytes;
  }
  return total;
}

}  // namespace

Pipeline::Pipeline(std::shared_ptr<Engine> engine, std::size_t jobs, std::uint64_t max_bytes)
    : engine_(std::move(engine)) {
  if (!engine_) throw std::invalid_argument("engine is null");
  if (jobs == 0) throw std::invalid_argument("jobs must be >= 1");
  const std::uint64_t per_slot = slot_bytes(engine_->info());
  if (per_slot > 0 && jobs > max_bytes / per_slot) {
    throw std::invalid_argument(std::to_string(jobs) + " job slots of " + std::to_string(per_slot) +
                                " bytes each exceed the limit of " + std::to_string(max_bytes) +
                                " bytes for all slots (max_slot_bytes)");
  }
  slots_.reserve(jobs);
  for (std::size_t k = 0; k < jobs; ++k) slots_.push_back(engine_->create_slot());
  window_ = std::make_unique<JobWindow>(*engine_, slots_);
}

Pipeline::~Pipeline() { close(kCloseBound); }

std::size_t Pipeline::close(std::chrono::milliseconds bound, const Interrupt& interrupted) {
  if (on_completion_thread())
    throw std::logic_error("close() from a callback: the completion thread cannot wait for itself");
  if (closed_.exchange(true)) return 0;
  const auto deadline = Clock::now() + bound;
  std::unique_ptr<Completer> completer;
  {
    const std::lock_guard<std::mutex> lock(completer_mutex_);
    completer = std::move(completer_);
  }
  if (completer) completer->stop(bound);
  completer.reset();
  // Every job still running is waited for at once, under one bound.
  const std::vector<std::size_t> running = window_->drain(deadline, interrupted);
  // The runtime may still write into these buffers: never freeing them is the only safe choice.
  for (const std::size_t k : running) keep_forever(slots_[k]);
  // Kept slots may hold runtime objects (e.g. device buffers) that must not outlive the engine, and
  // their completion reports write into the window's shared record (which they own).
  if (!running.empty()) keep_forever(engine_);
  return running.size();
}

void Pipeline::orphan(std::unique_ptr<Pipeline> pipeline) noexcept {
  if (!pipeline) return;
  if (Completer* c = pipeline->completer_if_started()) c->request_stop();
  keep_forever(std::shared_ptr<Pipeline>(pipeline.release()));
}

Slot& Pipeline::slot(std::size_t k) { return *slot_ptr(k); }

std::shared_ptr<Slot> Pipeline::slot_ptr(std::size_t k) {
  if (k >= slots_.size()) (void)window_->state(k);  // throws std::out_of_range with the message
  return slots_[k];
}

namespace {

std::int64_t first_job_ns(const RunStats& st) {
  if (st.jobs.empty() || st.jobs.front().outcome != JobOutcome::kCompleted) return -1;
  return st.jobs.front().t_done - st.jobs.front().t_submit;
}

}  // namespace

RunStats Pipeline::run(const RunOptions& options) {
  for (const auto& frame : options.frames) {
    const auto& specs = engine_->info().inputs;
    if (frame.size() != specs.size()) throw std::invalid_argument("a frame needs one buffer per model input");
    for (std::size_t i = 0; i < frame.size(); ++i) {
      if (frame[i].data == nullptr || frame[i].nbytes != specs[i].nbytes)
        throw std::invalid_argument("frame buffer " + std::to_string(i) + " is not of the input's size (" +
                                    std::to_string(specs[i].nbytes) + " bytes)");
    }
  }
  if (closed_.load()) throw std::logic_error("the pipeline is closed");
  if (running_.exchange(true)) throw std::logic_error("the pipeline is already running");
  struct Reset {
    std::atomic<bool>& flag;
    ~Reset() { flag.store(false); }
  } reset{running_};
  cancel_requests_.store(0);
  std::int64_t first = -1;
  if (options.warmup > 0) {
    RunOptions warm = options;
    warm.iterations = options.warmup;
    warm.time_limit_s = 0;
    warm.warmup = 0;
    RunStats w = run_loop(warm, false);
    if (w.reason != StopReason::kFinished) {
      w.message = "during warm-up: " + w.message;
      return w;
    }
    first = first_job_ns(w);
  }
  const std::int64_t cpu0 = process_cpu_ns();
  const std::uint64_t in0 = window_->copied_in(), out0 = window_->copied_out();
  RunStats st = run_loop(options, true);
  st.bytes_copied_in = window_->copied_in() - in0;  // the run holds every slot: only its own copies
  st.bytes_copied_out = window_->copied_out() - out0;
  st.first_job_ns = first >= 0 ? first : first_job_ns(st);
  const std::int64_t cpu1 = process_cpu_ns();
  st.cpu_ns = cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0;
  return st;
}

namespace {

// What a run has measured, and the bookkeeping of its jobs in flight: each slot's job has a record
// (the first max_records are kept in st.jobs, later ones in a scratch record that is counted only).
class RunBook {
 public:
  RunBook(const RunOptions& opt, std::size_t n_slots, Clock::time_point t0)
      : opt_(opt), t0_(t0), rec_of_(n_slots, kNone), scratch_(n_slots) {
    if (opt.iterations > 0)
      st.jobs.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(opt.iterations, opt.max_records)));
  }

  RunStats st;
  std::size_t in_flight = 0;
  bool stopped = false;  // a problem or cancel: no more submissions

  void stop_with(StopReason r, std::string msg) {
    if (!stopped) {
      st.reason = r;
      st.message = std::move(msg);
    }
    stopped = true;
  }
  bool holds(std::size_t k) const noexcept { return rec_of_[k] != kNone; }
  std::uint64_t seq_on(std::size_t k) { return rec(k).seq; }

  // `arrival`: when the job was due (open loop), else {} (now).
  void submitted(std::size_t k, Clock::time_point arrival = {}) {
    const auto now = Clock::now();
    JobRecord r{st.submitted++,
                static_cast<std::uint32_t>(k),
                JobOutcome::kCancelled,
                ns(now),
                ns(now),
                -1,
                ns(arrival == Clock::time_point{} ? now : arrival)};
    if (arrival != Clock::time_point{}) {
      const std::int64_t late = r.t_submit - r.t_arrival;
      if (late >= std::chrono::nanoseconds(RunStats::kLate).count()) ++st.late;
      st.late_max_ns = std::max(st.late_max_ns, late);
      st.late_total_ns += std::max<std::int64_t>(late, 0);
    }
    if (st.jobs.size() < opt_.max_records) {
      rec_of_[k] = st.jobs.size();
      st.jobs.push_back(r);
    } else {
      rec_of_[k] = kScratch;
      scratch_[k] = r;
      ++st.records_dropped;
    }
    st.max_in_flight = std::max(st.max_in_flight, ++in_flight);
  }

  void collected(const Collected& c) {
    JobRecord& r = rec(c.slot);
    rec_of_[c.slot] = kNone;
    --in_flight;
    r.t_submit = ns(c.t_submit), r.t_started = ns(c.t_started), r.t_done = ns(c.t_done);
    if (opt_.rate_fps <= 0) r.t_arrival = r.t_submit;  // closed loop: due when submitted
    if (c.device_known) {
      r.t_device_start = ns(c.device.start), r.t_device_end = ns(c.device.end);
      r.device_unit = c.device.unit;
    }
    st.wall_ns = std::max(st.wall_ns, r.t_done);
    const bool ok = c.outcome.ok();
    r.outcome = ok ? JobOutcome::kCompleted : JobOutcome::kFailed;
    ++(ok ? st.completed : st.failed);
    if (ok) st.latency.add(r.t_done - r.t_arrival);
    if (!ok) stop_with(c.outcome.reason, "job " + std::to_string(r.seq) + " failed: " + c.outcome.message);
  }

  void gave_up(std::size_t k, bool timed_out) {
    JobRecord& r = rec(k);
    rec_of_[k] = kNone;
    --in_flight;
    r.outcome = timed_out ? JobOutcome::kFailed : JobOutcome::kCancelled;
    ++(timed_out ? st.failed : st.cancelled);
  }

 private:
  static constexpr std::size_t kScratch = kNone - 1;
  JobRecord& rec(std::size_t k) { return rec_of_[k] == kScratch ? scratch_[k] : st.jobs[rec_of_[k]]; }
  std::int64_t ns(Clock::time_point t) const { return static_cast<std::int64_t>((t - t0_).count()); }

  const RunOptions& opt_;
  const Clock::time_point t0_;
  std::vector<std::size_t> rec_of_;
  std::vector<JobRecord> scratch_;
};

}  // namespace

void Pipeline::stage(std::size_t k, const std::vector<Buffer>& frame) {
  const auto& inputs = slots_[k]->inputs();
  std::uint64_t copied = 0;
  for (std::size_t i = 0; i < frame.size() && i < inputs.size(); ++i) {
    const std::size_t n = std::min(frame[i].nbytes, inputs[i].nbytes);
    std::memcpy(inputs[i].data, frame[i].data, n);
    copied += n;
  }
  window_->count_copied(copied, 0);
}

// One run's driver of the job window: prime, refill (on arrival times in an open loop), collect,
// drain, give up. Nested in Pipeline for its slots, cancel count and progress counters.
class Pipeline::RunLoop {
  // Declared first: the constructor's initialisers below use them, and book uses t0_.
  Pipeline& p_;
  JobWindow& w_;
  const Owner me_;
  const RunOptions& opt_;
  const bool measured_;
  const Clock::time_point t0_;

 public:
  RunLoop(Pipeline& p, const RunOptions& opt, bool measured)
      : p_(p),
        w_(*p.window_),
        me_(w_.new_owner()),
        opt_(opt),
        measured_(measured),
        t0_(Clock::now()),
        book(opt, p.slots_.size(), t0_),
        time_end_(saturating_add(t0_, opt.time_limit_s)),
        due_(opt.rate_fps, opt.poisson, opt.seed, t0_) {
    w_.begin_exclusive(me_);
    book.st.completion_order = opt.completion_order && w_.reports_completions() && !opt.sync;
    pick_ = book.st.completion_order ? JobWindow::Pick::kFirstDone : JobWindow::Pick::kOldest;
  }
  ~RunLoop() { w_.end_exclusive(); }
  RunLoop(const RunLoop&) = delete;
  RunLoop& operator=(const RunLoop&) = delete;

  RunBook book;

  void check_cancel() {
    if (!book.stopped && cancels() > 0) {
      book.stop_with(StopReason::kCancelled, "cancelled");
      drain_by_ = Clock::now() + kCancelGrace;
    }
  }

  // Prime / refill: submit into every free slot while there is work (and, open loop, it is due).
  void refill() {
    while (!book.stopped && cancels() == 0 && more_wanted(Clock::now())) {
      if (due_.on() && Clock::now() < due_.next()) return;  // not due yet
      if (opt_.max_in_flight > 0 && book.in_flight >= opt_.max_in_flight) return;
      const std::size_t k = w_.acquire(me_, Clock::time_point{});
      if (k == kNone && book.in_flight == 0)
        throw std::runtime_error("no usable slot: every slot holds a job that never finished");
      if (k == kNone && due_.on() && opt_.drop_late) {  // it arrived to a full pipeline
        drop();
        continue;
      }
      if (k == kNone || !submit(k)) return;
    }
  }

  // Open loop with nothing in flight: sleeps (a slice at most) until the next arrival is due.
  bool idle_until_due() {
    if (book.in_flight > 0 || !due_.on() || book.stopped || cancels() > 0 || !more_wanted(Clock::now())) return false;
    std::this_thread::sleep_until(std::min(due_.next(), Clock::now() + kWaitSlice));
    return true;
  }

  // Steady state / drain: the first job to finish (or the oldest), which must finish within the
  // wait timeout of its start however busy the others keep us. False: the run is over.
  bool collect_next() {
    const auto deadline = std::min(drain_by_, saturating_add(w_.oldest(me_).t_started, opt_.wait_timeout));
    const unsigned seen = cancels();
    const auto wake = wake_for_arrival();
    const Collected c = w_.collect(me_, pick_, std::min(deadline, wake), [&] { return cancels() > seen; });
    if (c.done) {
      collected(c);
      runtime_busy_ = false;
      return true;
    }
    if (wake < deadline && c.outcome.reason == StopReason::kWaitTimeout) return true;  // an arrival is due
    if (c.outcome.reason == StopReason::kCancelled && drain_by_ == kFar) return true;  // a first cancel: drain
    give_up(c);
    return false;
  }

 private:
  static constexpr Clock::time_point kFar = Clock::time_point::max();

  unsigned cancels() const { return p_.cancel_requests_.load(std::memory_order_relaxed); }

  bool more_wanted(Clock::time_point now) const {
    const bool has_count = opt_.iterations > 0, has_time = opt_.time_limit_s > 0;
    if (!has_count && !has_time) return true;                                    // cancel() ends the run
    const std::uint64_t started = due_.on() ? due_.count() : book.st.submitted;  // open loop: arrivals
    return (has_count && started < opt_.iterations) || (has_time && now < time_end_);
  }

  // Open loop: when to look again for the next arrival while jobs are in flight (kFar: never). An
  // arrival that must queue for a slot is waited for by collecting; with drop_late it is dropped.
  Clock::time_point wake_for_arrival() const {
    if (!due_.on() || book.stopped || !more_wanted(Clock::now())) return kFar;
    if (opt_.drop_late) return due_.next();
    const std::size_t slots = p_.slots_.size();
    const std::size_t depth = opt_.max_in_flight > 0 ? std::min(opt_.max_in_flight, slots) : slots;
    return book.in_flight < depth && !runtime_busy_ ? due_.next() : kFar;
  }

  void drop() {
    due_.pop();
    ++book.st.dropped;
  }

  // Stages and starts slot k's job. False: stop refilling (the runtime is busy, or the run stops).
  bool submit(std::size_t k) {
    RunStats& st = book.st;
    if (!opt_.frames.empty()) p_.stage(k, opt_.frames[st.submitted % opt_.frames.size()]);
    // Busy with jobs of ours in flight: collect one first. With none: back off, up to the timeout.
    const auto busy_until = book.in_flight > 0 ? Clock::time_point{} : saturating_add(Clock::now(), opt_.wait_timeout);
    const Collected sync_job = opt_.sync ? w_.run_now(k, st.submitted) : Collected{};
    const Outcome o = opt_.sync ? Outcome{} : w_.submit(k, st.submitted, busy_until, &st.busy_retries);
    if (!o.ok()) {
      w_.give_back(k);
      runtime_busy_ = o.reason == StopReason::kBusyTimeout;
      if (runtime_busy_ && book.in_flight > 0 && due_.on() && opt_.drop_late) {  // the runtime is full too
        drop();
        return true;
      }
      if (runtime_busy_ && book.in_flight > 0) return false;
      book.stop_with(o.reason, o.reason == StopReason::kBusyTimeout
                                   ? "the runtime stayed busy for more than " + ms_text(opt_.wait_timeout) +
                                         " with none of our jobs in flight"
                                   : "submission " + std::to_string(st.submitted) + " was refused: " + o.message);
      return false;
    }
    book.submitted(k, due_.on() ? due_.next() : Clock::time_point{});
    if (due_.on()) due_.pop();
    if (opt_.sync) collected(sync_job);
    return true;
  }

  void collected(const Collected& c) {
    book.collected(c);
    w_.release(c.slot);
    if (measured_) {  // relaxed stores of plain counters: all the live progress costs the loop
      p_.progress_submitted_.store(book.st.submitted, std::memory_order_relaxed);
      p_.progress_completed_.store(book.st.completed, std::memory_order_relaxed);
    }
  }

  // Nothing in time (or a second cancel): the late job failed, or was cancelled; what else is in
  // flight gets one look, and whatever is not done yet is cancelled, its slot abandoned (never
  // freed or reused while the runtime may still use it).
  void give_up(const Collected& c) {
    const bool cancelled = c.outcome.reason == StopReason::kCancelled || drain_by_ != kFar;
    if (!cancelled) {
      book.stop_with(StopReason::kWaitTimeout, "job " + std::to_string(book.seq_on(c.slot)) +
                                                   " did not finish within " + ms_text(opt_.wait_timeout));
    }
    for (std::size_t k = 0; k < p_.slots_.size(); ++k) {
      if (!book.holds(k)) continue;
      const Collected d = w_.poll(k);
      if (d.done) {
        collected(d);
        continue;
      }
      w_.abandon(k);
      book.gave_up(k, !cancelled && k == c.slot);
    }
  }

  const Clock::time_point time_end_;
  Arrivals due_;  // open loop only
  JobWindow::Pick pick_ = JobWindow::Pick::kOldest;
  Clock::time_point drain_by_ = kFar;  // after a cancel: when the jobs in flight are given up
  bool runtime_busy_ = false;          // the last submission was answered "busy": wait for a job to finish
};

RunStats Pipeline::run_loop(const RunOptions& opt, bool measured) {
  RunLoop loop(*this, opt, measured);
  for (;;) {
    loop.check_cancel();
    loop.refill();
    if (loop.idle_until_due()) continue;
    if (loop.book.in_flight == 0 || !loop.collect_next()) break;
  }
  return std::move(loop.book.st);
}

}  // namespace vart_async::core
