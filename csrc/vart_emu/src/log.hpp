// "[vart-emu] <LEVEL> <message>" lines on stderr, filtered by a per-runner level.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vart::emu {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

std::optional<LogLevel> parse_log_level(std::string_view name);

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::kWarning) : level_(level) {}

  // Check before building an expensive message.
  bool enabled(LogLevel level) const noexcept { return level <= level_; }
  void log(LogLevel level, std::string_view message) const noexcept;
  void error(std::string_view m) const noexcept { log(LogLevel::kError, m); }
  void warning(std::string_view m) const noexcept { log(LogLevel::kWarning, m); }
  void info(std::string_view m) const noexcept { log(LogLevel::kInfo, m); }
  void debug(std::string_view m) const noexcept { log(LogLevel::kDebug, m); }

 private:
  LogLevel level_;
};

// For code without a runner (NpuTensor): only errors, which are always shown.
void log_error(std::string_view message) noexcept;

}  // namespace vart::emu
