#include "log.hpp"

#include <cstdio>
#include <mutex>

#include "names.hpp"

namespace vart::emu {
namespace {

constexpr std::string_view kLevelNames[] = {"ERROR", "WARNING", "INFO", "DEBUG"};

// One line per write under a process-wide mutex, so lines of concurrent runners never interleave.
std::mutex& stderr_mutex() {
  static std::mutex m;
  return m;
}

void write_line(LogLevel level, std::string_view message) noexcept {
  try {
    std::string line = "[vart-emu] ";
    line += kLevelNames[static_cast<int>(level)];
    line += ' ';
    line += message;
    line += '\n';
    const std::lock_guard<std::mutex> lock(stderr_mutex());
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  } catch (...) {
    // Logging must never turn into an error of its own (it runs in noexcept paths).
  }
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  const std::string upper = to_upper(name);
  for (int i = 0; i < 4; ++i) {
    if (kLevelNames[i] == upper) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

void Logger::log(LogLevel level, std::string_view message) const noexcept {
  if (enabled(level)) write_line(level, message);
}

void log_error(std::string_view message) noexcept { write_line(LogLevel::kError, message); }

}  // namespace vart::emu
