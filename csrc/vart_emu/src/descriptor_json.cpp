// Bounded reading and parsing of descriptor files (see descriptor_json.hpp for why each bound exists).
#include "descriptor_json.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace vart::emu {
namespace {

using nlohmann::json;

// Length of the valid UTF-8 sequence starting at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing past U+10FFFF), or 0 when s[i] does not start one.
std::size_t utf8_length(const std::string& s, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = at(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if ((at(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", c);
  return buf;
}

// Escapes what cannot go into a message as is; stops (with "...") once `max` bytes are used.
std::string escape(const std::string& s, std::size_t max, bool controls) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_length(s, i);
    const auto c = static_cast<unsigned char>(s[i]);
    const bool raw = n > 0 && !(controls && (c < 0x20 || c == 0x7F));
    const std::string piece = raw ? s.substr(i, n) : hex_byte(c);
    if (out.size() + piece.size() > max) {
      out += "...";
      break;
    }
    out += piece;
    i += raw ? n : 1;
  }
  return out;
}

void preview(const json& v, std::string& out, std::size_t limit, int depth) {
  constexpr int kShownDepth = 3;  // deeper containers show as [...] / {...}
  if (v.is_array() || v.is_object()) {
    const bool array = v.is_array();
    out += array ? '[' : '{';
    if (!v.empty() && depth >= kShownDepth) out += "...";
    bool first = true;
    for (auto it = v.begin(); depth < kShownDepth && it != v.end() && out.size() <= limit; ++it) {
      if (!first) out += ',';
      first = false;
      if (!array) out += '"' + excerpt(it.key(), limit) + "\":";
      preview(*it, out, limit, depth + 1);
    }
    out += array ? ']' : '}';
  } else if (v.is_string()) {
    out += '"' + excerpt(v.get_ref<const std::string&>(), limit) + '"';
  } else {
    out += v.dump();  // a number, bool or null: short
  }
}

std::string file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  return "not a regular file";
}

[[noreturn]] void not_regular(const std::string& path, mode_t mode) {
  throw std::runtime_error("vart-emu: model path is not a regular file: " + path + " is " + file_kind(mode) +
                           "; an emulator descriptor is a regular .json file");
}

[[noreturn]] void too_large(const std::string& path, const std::string& size) {
  throw std::runtime_error("vart-emu: " + path + ": larger than the " + std::to_string(kMaxDescriptorBytes >> 20) +
                           " MiB an emulator descriptor may have (" + size + ")");
}

std::string os_error(int err) { return std::system_category().message(err); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Line and column (from 1) of byte `offset`, for messages about text that is not UTF-8.
std::string position(const std::string& text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// Where the parser is, as the descriptor's field path ("inputs[0].shape[1]"): tracked through the
// parser's callback because nlohmann's own errors (number overflow) say nothing of the field.
struct Frame {
  bool array = false;
  std::size_t index = 0;  // arrays: the element being parsed
  bool has_key = false;   // objects: the key of the value being parsed
  std::string key;
  std::set<std::string> keys;
};

// Deep paths keep their first and last levels: "a[0][0][0]...[0][0]".
std::string field_path(const std::vector<Frame>& stack) {
  constexpr std::size_t kHead = 4, kTail = 3;
  std::string p;
  for (std::size_t i = 0; i < stack.size(); ++i) {
    const Frame& f = stack[i];
    if (stack.size() > kHead + kTail + 1 && i >= kHead && i < stack.size() - kTail) {
      if (i == kHead) p += "...";
    } else if (f.array) {
      p += "[" + std::to_string(f.index) + "]";
    } else if (f.has_key) {
      p += (p.empty() || p.back() == '.' ? "" : ".") + excerpt(f.key);
    }
  }
  return p;
}

}  // namespace

std::string excerpt(const std::string& s, std::size_t max) { return escape(s, max, true); }

std::string utf8_safe(const std::string& s) { return escape(s, std::string::npos - 3, false); }

std::string describe(const json& v) {
  constexpr std::size_t kShown = 40;
  std::string shown;
  preview(v, shown, kShown, 0);
  if (shown.size() > kShown) {
    std::size_t cut = kShown - 3;
    while (cut > 0 && (static_cast<unsigned char>(shown[cut]) & 0xC0) == 0x80) --cut;  // a character boundary
    shown = shown.substr(0, cut) + "...";
  }
  return std::string(v.type_name()) + " " + shown;
}

std::string read_descriptor_file(const std::string& path) {
  // The kind is checked before opening: open() on a FIFO blocks until a writer comes, and a device
  // such as /dev/zero never ends.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw std::runtime_error("vart-emu: cannot read model file: " + path + " (" + os_error(errno) + ")");
  }
  if (!S_ISREG(st.st_mode)) not_regular(path, st.st_mode);
  // O_NONBLOCK: should a FIFO replace the file after stat(), open() still returns at once.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    throw std::runtime_error("vart-emu: cannot open model file: " + path + " (" + os_error(errno) + ")");
  }
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) not_regular(path, st.st_mode);
  if (static_cast<std::uint64_t>(st.st_size) > kMaxDescriptorBytes) {
    too_large(path, std::to_string(st.st_size) + " bytes");
  }
  std::string body;
  char buf[65536];
  for (;;) {  // to the end, though never past the limit: the file may grow while it is read
    const ssize_t got = ::read(fd.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw std::runtime_error("vart-emu: cannot read model file: " + path + " (" + os_error(errno) + ")");
    if (got == 0) break;
    body.append(buf, static_cast<std::size_t>(got));
    if (body.size() > kMaxDescriptorBytes) too_large(path, "it grew while being read");
  }
  return body;
}

json parse_descriptor_json(const std::string& text, const std::string& file) {
  const auto error = [&](const std::string& where, const std::string& problem) {
    return std::runtime_error(utf8_safe("vart-emu: " + file + ": " + (where.empty() ? "" : where + ": ") + problem));
  };
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_length(text, i);
    if (n == 0) {
      throw error("", "not UTF-8 text (byte 0x" + hex_byte(static_cast<unsigned char>(text[i])).substr(2) + " at " +
                          position(text, i) + "): a descriptor is a UTF-8 JSON file");
    }
    i += n;
  }
  std::vector<Frame> stack;
  const json::parser_callback_t track = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (stack.size() >= kMaxDescriptorDepth) {
          throw error(field_path(stack), "nested deeper than " + std::to_string(kMaxDescriptorDepth) +
                                             " levels (a descriptor nests 4 deep)");
        }
        stack.push_back(Frame{event == json::parse_event_t::array_start, 0, false, {}, {}});
        break;
      case json::parse_event_t::key: {
        Frame& f = stack.back();
        f.has_key = false;
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!f.keys.insert(key).second) {
          throw error(field_path(stack), "duplicate key '" + excerpt(key) + "' (each key may appear once)");
        }
        f.key = key;
        f.has_key = true;
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack.pop_back();
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
      case json::parse_event_t::value:
        if (!stack.empty() && stack.back().array) ++stack.back().index;
        break;
    }
    return true;
  };
  try {
    return json::parse(text, track);
  } catch (const json::out_of_range& e) {
    if (e.id == 406) throw error(field_path(stack), "number out of range (it does not fit a double)");
    throw error(field_path(stack), std::string("invalid JSON: ") + excerpt(e.what(), 300));
  } catch (const json::exception& e) {
    // nlohmann quotes the token it read last, which can be the rest of the file: keep a prefix.
    std::string m = e.what();
    const std::string tag = "; last read: '";
    if (const auto at = m.find(tag); at != std::string::npos) {
      std::string token = m.substr(at + tag.size());
      if (!token.empty() && token.back() == '\'') token.pop_back();
      m = m.substr(0, at) + tag + excerpt(token) + "'";
    }
    throw error("", "invalid JSON: " + excerpt(m, 400));
  }
}

}  // namespace vart::emu
