#include "crypto/secret.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace cg::crypto {
namespace {

static_assert(!std::is_copy_constructible_v<Secret>);
static_assert(!std::is_copy_assignable_v<Secret>);
static_assert(std::is_nothrow_move_constructible_v<Secret>);

TEST(Secret, StartsZeroed) {
  Secret s(32);
  for (auto b : s.bytes()) EXPECT_EQ(b, 0);
}

TEST(Secret, RandomDiffersAndCompares) {
  Secret a = Secret::random(32);
  Secret b = Secret::random(32);
  EXPECT_FALSE(a.equals(b));
  Secret c = Secret::copy_of(a.bytes());
  EXPECT_TRUE(a.equals(c));
}

TEST(Secret, MoveLeavesSourceEmpty) {
  Secret a = Secret::random(16);
  Secret c = Secret::copy_of(a.bytes());
  Secret b = std::move(a);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): checking moved-from state
  EXPECT_TRUE(b.equals(c));
  a = std::move(b);
  EXPECT_TRUE(a.equals(c));
}

TEST(Secret, DifferentSizesAreNotEqual) {
  Secret a(16), b(32);
  EXPECT_FALSE(a.equals(b));
}

TEST(CtEqual, ComparesContentAndLength) {
  const std::uint8_t x[] = {1, 2, 3}, y[] = {1, 2, 4}, z[] = {1, 2};
  EXPECT_TRUE(ct_equal(x, x));
  EXPECT_FALSE(ct_equal(x, y));
  EXPECT_FALSE(ct_equal(x, z));
  EXPECT_TRUE(ct_equal({}, {}));
}

TEST(SecretDeathTest, GuardPageCatchesOverflow) {
  // sodium_malloc places a guard page after the allocation; writing past it faults.
  EXPECT_DEATH(
      {
        Secret s(16);
        volatile std::uint8_t* p = s.bytes().data();
        for (std::size_t i = 0; i < 1u << 16; ++i) p[i] = 1;
      },
      "");
}

}  // namespace
}  // namespace cg::crypto
