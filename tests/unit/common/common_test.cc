#include "gateway/common/common.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace cg {
namespace {

TEST(Status, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::ok);
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(Status, CarriesCodeAndReason) {
  Status s = malformed("item.id: must be 16 bytes");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::malformed);
  EXPECT_EQ(s.to_string(), "malformed: item.id: must be 16 bytes");
  EXPECT_EQ(s.with_context("policy.toml:3").to_string(),
            "malformed: policy.toml:3: item.id: must be 16 bytes");
}

TEST(Status, CodeNamesAreDistinct) {
  EXPECT_EQ(code_name(Code::unauthenticated), "unauthenticated");
  EXPECT_EQ(code_name(Code::rejected), "rejected");
  EXPECT_EQ(code_name(Code::overloaded), "overloaded");
  EXPECT_EQ(code_name(Code::io), "io");
}

Result<int> parse_positive(int v) {
  if (v <= 0) return rejected("not positive");
  return v;
}

Result<int> twice(int v) {
  CG_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

TEST(Result, PropagatesValueAndError) {
  auto good = twice(4);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 8);
  auto bad = twice(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::rejected);
}

TEST(ResultDeathTest, ValueOfFailedResultAborts) {
  Result<int> r = io_error("disk");
  EXPECT_DEATH((void)r.value(), "assertion failed");
}

TEST(AssertDeathTest, StaysOnAndNamesCondition) {
  EXPECT_DEATH(CG_ASSERT(1 + 1 == 3), "1 \\+ 1 == 3");
}

TEST(ByteReader, ReadsLittleEndian) {
  const std::array<std::uint8_t, 15> b = {1, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 8,
                                          7, 6,    5,    4,    3,    2,    1};
  ByteReader r(b);
  EXPECT_EQ(r.u8(), 1);
  EXPECT_EQ(r.u16(), 0x1234);
  EXPECT_EQ(r.u32(), 0x12345678u);
  EXPECT_EQ(r.u64(), 0x0102030405060708ull);
  EXPECT_TRUE(r.at_end());
  EXPECT_TRUE(r.ok());
}

TEST(ByteReader, OverrunFailsAndLatches) {
  const std::array<std::uint8_t, 3> b = {1, 2, 3};
  ByteReader r(b);
  EXPECT_EQ(r.u16(), 0x0201);
  EXPECT_FALSE(r.u16().has_value());  // one byte left
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.u8().has_value());  // latched even though a byte remains
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ByteReader, BytesNeverExceedBuffer) {
  const std::array<std::uint8_t, 4> b = {1, 2, 3, 4};
  ByteReader r(b);
  EXPECT_FALSE(r.bytes(SIZE_MAX).has_value());
  ByteReader r2(b);
  auto s = r2.bytes(4);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->size(), 4u);
  EXPECT_TRUE(r2.at_end());
}

TEST(ByteWriter, RoundTripsWithReader) {
  std::vector<std::uint8_t> out;
  ByteWriter w(out);
  w.u8(9);
  w.u16(0xbeef);
  w.u32(0xdeadbeef);
  w.u64(0x0123456789abcdefull);
  ByteReader r(out);
  EXPECT_EQ(r.u8(), 9);
  EXPECT_EQ(r.u16(), 0xbeef);
  EXPECT_EQ(r.u32(), 0xdeadbeefu);
  EXPECT_EQ(r.u64(), 0x0123456789abcdefull);
  EXPECT_TRUE(r.at_end());
}

TEST(Hex, RoundTripAndRejects) {
  const std::array<std::uint8_t, 3> b = {0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "00abff");
  auto back = from_hex("00ABff");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, std::vector<std::uint8_t>(b.begin(), b.end()));
  EXPECT_FALSE(from_hex("abc").has_value());
  EXPECT_FALSE(from_hex("zz").has_value());
}

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(1000);
  EXPECT_EQ(clock.now_ns(), 1000);
  EXPECT_EQ(clock.monotonic_ns(), 0);
  clock.advance_ns(5 * ns_per_ms);
  EXPECT_EQ(clock.now_ns(), 1000 + 5 * ns_per_ms);
  EXPECT_EQ(clock.monotonic_ns(), 5 * ns_per_ms);
}

TEST(SystemClock, MonotonicDoesNotGoBack) {
  SystemClock clock;
  auto a = clock.monotonic_ns();
  auto b = clock.monotonic_ns();
  EXPECT_LE(a, b);
  EXPECT_GT(clock.now_ns(), 1'600'000'000LL * ns_per_s);
}

}  // namespace
}  // namespace cg

namespace cg {
namespace {
TEST(JsonEscape, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_escape("plain"), "plain");
  EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(json_escape("x\ny\x1b"), "x\\ny\\u001b");
}
}  // namespace
}  // namespace cg

namespace cg {
namespace {

// One line per reason per interval; repeats counted and reported with the next line; reasons
// independent; time from a FakeClock only.
TEST(RateLimitedLog, OneLinePerReasonPerIntervalWithTheCountOfSuppressedRepeats) {
  FakeClock clock;
  std::vector<std::string> lines;
  RateLimitedLog log("il-gw-1", clock, 10 * ns_per_s,
                     [&](const std::string& line) { lines.push_back(line); });
  EXPECT_TRUE(log.log("bad_mac", "link to-relay: frame with a bad MAC"));
  for (int i = 0; i < 26; ++i) {
    clock.advance_ns(100 * ns_per_ms);
    EXPECT_FALSE(log.log("bad_mac", "link to-relay: frame with a bad MAC"));
  }
  EXPECT_EQ(log.suppressed("bad_mac"), 26u);
  // Another reason is not held back by the first.
  EXPECT_TRUE(log.log("refused_key", "refused CURVE key X"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "[il-gw-1] link to-relay: frame with a bad MAC");
  EXPECT_EQ(lines[1], "[il-gw-1] refused CURVE key X");
  clock.advance_ns(10 * ns_per_s - 2600 * ns_per_ms - 1);  // 1 ns short of the interval
  EXPECT_FALSE(log.log("bad_mac", "again"));
  clock.advance_ns(1);
  EXPECT_TRUE(log.log("bad_mac", "link to-relay: frame with a bad MAC"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2],
            "[il-gw-1] link to-relay: frame with a bad MAC (and 27 more like it suppressed in the "
            "last 10 s)");
  EXPECT_EQ(log.suppressed("bad_mac"), 0u);
  clock.advance_ns(60 * ns_per_s);
  EXPECT_TRUE(log.log("bad_mac", "quiet since"));
  EXPECT_EQ(lines.back(), "[il-gw-1] quiet since");
}

}  // namespace
}  // namespace cg
