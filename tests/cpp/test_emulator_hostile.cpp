// Hostile descriptors (issue 13), under the sanitizers: nesting that used to overflow the stack, files
// that are not files, oversized files, numbers JSON cannot hold, duplicate keys, bytes that are not
// UTF-8. Each is a clear std::runtime_error naming the file, with a bounded message.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <string>

#include "emu_test_helpers.hpp"

namespace vart_emu_test {
namespace {

constexpr std::size_t kMaxMessage = 600;

std::string error_opening(const std::string& path) {
  const std::string e = error_of([&] { open(path); });
  EXPECT_LT(e.size(), kMaxMessage) << e.substr(0, 200);
  return e;
}

TEST(Hostile, DeepNestingIsRefusedNotAStackOverflow) {
  const std::string deep = write_file("deep.json", std::string(200000, '[') + std::string(200000, ']'));
  EXPECT_EQ(error_opening(deep), "vart-emu: " + deep + ": [0][0][0][0]...[0][0][0]: nested deeper than 64 levels "
                                                       "(a descriptor nests 4 deep)");
  const std::string objects = write_file("objects.json", [] {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += "{\"a\":";
    return s + "1" + std::string(100000, '}');
  }());
  EXPECT_TRUE(contains(error_opening(objects), ": a.a.a.a...a.a.a: nested deeper than 64 levels"));
}

TEST(Hostile, OnlyRegularFilesAreRead) {
  EXPECT_EQ(error_of([] { open("/dev/zero"); }),
            "vart-emu: model path is not a regular file: /dev/zero is a character device; an emulator descriptor is "
            "a regular .json file");
  const std::string fifo = temp_path("fifo.json");
  std::filesystem::remove(fifo);  // from an earlier run (TempDir outlives the test)
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_TRUE(contains(error_of([&] { open(fifo); }), fifo + " is a FIFO (named pipe)"));  // never opened: no hang
  const std::string big = write_file("big.json", Desc{}.json() + std::string((4u << 20) + 1, ' '));
  EXPECT_TRUE(contains(error_opening(big), big + ": larger than the 4 MiB an emulator descriptor may have ("));
}

TEST(Hostile, NumbersThatDoNotFitADoubleNameTheirField) {
  Desc d;
  d.extra = R"(, "service_jitter_us": 1e999)";
  EXPECT_EQ(error_opening(d.write("inf.json")),
            "vart-emu: " + temp_path("inf.json") +
                ": service_jitter_us: number out of range (it does not fit a double)");
  d.extra = "";
  d.inputs = R"([{"name": "a", "data_type": "UINT8", "shape": [1, )" + std::string(400, '9') + R"(], "layout": "NC"}])";
  EXPECT_TRUE(contains(error_opening(d.write("digits.json")), ": inputs[0].shape[1]: number out of range"));
}

TEST(Hostile, DuplicateKeysAreRefused) {
  Desc d;
  d.extra = R"(, "batch_size": 3)";
  EXPECT_EQ(error_opening(d.write()),
            "vart-emu: " + temp_path("model.json") + ": duplicate key 'batch_size' (each key may appear once)");
  d.extra = R"(, "faults": {"out_of_order": true, "out_of_order": false})";
  EXPECT_TRUE(contains(error_opening(d.write()), ": faults: duplicate key 'out_of_order'"));
}

TEST(Hostile, TextThatIsNotUtf8IsNamedAsSuch) {
  for (const std::string bad : {"\xff", "\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x80\xaf"}) {
    const std::string path = write_file("bad.json", "{\"name\": \"" + bad + "\"}");
    EXPECT_TRUE(contains(error_opening(path), path + ": not UTF-8 text (byte 0x")) << error_of([&] { open(path); });
  }
}

TEST(Hostile, MessagesQuoteBoundedEscapedPrefixes) {
  Desc d;
  d.extra = R"(, "description": [)" + std::string(100000, '1') + "]";
  EXPECT_TRUE(contains(error_opening(d.write()), "number out of range"));
  d.extra = R"(, "format": ")" + std::string(1000000, 'f') + "\"";
  EXPECT_TRUE(contains(error_opening(d.write()), "format: must be \"vart-emu/1\" (got string \"fff"));
  d.extra = ", \"" + std::string(1000000, 'k') + "\": 1";
  EXPECT_TRUE(contains(error_opening(d.write()), "kkk...: unknown key"));
  std::string text = Desc{}.json();
  const std::string batch = "\"batch_size\": 2";
  text.replace(text.find(batch), batch.size(), R"("batch_size": "\u001b[31m\u00e9")");
  EXPECT_TRUE(contains(error_opening(write_file("esc.json", text)),
                       "batch_size: must be an integer (got string \"\\x1B[31m\xc3\xa9\")"));
  const std::string syntax = write_file("syntax.json", "{\"name\": \"" + std::string(1000000, 'n') + "\x01");
  EXPECT_EQ(error_opening(syntax).rfind("vart-emu: " + syntax + ": invalid JSON: ", 0), 0u);
}

}  // namespace
}  // namespace vart_emu_test
