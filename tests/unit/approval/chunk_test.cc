// Rules-bundle chunks (schemas/FORMATS.md "Rules-bundle chunk"): pinned bytes of a fixed case,
// the decoder's refusals, and the round trip. An accidental change to the layout fails here
// loudly (STYLE.md habit 9); an intended one bumps the format byte and re-pins deliberately.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "gateway/approval/approval.h"
#include "gateway/common/hex.h"
#include "gateway/common/limits.h"

namespace cg::approval {
namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

const std::vector<std::uint8_t> kBundle = bytes_of("cellgate rules bundle: chunk test 0123");

// Pinned on 2026-12-05 from format 1 (the layout the relay has read since issue 7).
// BLAKE2b-256 of kBundle, then three chunks of at most 16 data bytes each.
constexpr const char* kIdHex = "b4408a2399e6e703ba0f79c53966c607bd8993b00480b4646024451e9959b904";
constexpr const char* kChunkHex[] = {
    "4347524201000000b4408a2399e6e703ba0f79c53966c607bd8993b00480b4646024451e9959b904"
    "260000000000000063656c6c676174652072756c65732062",
    "4347524201000000b4408a2399e6e703ba0f79c53966c607bd8993b00480b4646024451e9959b904"
    "2600000010000000756e646c653a206368756e6b20746573",
    "4347524201000000b4408a2399e6e703ba0f79c53966c607bd8993b00480b4646024451e9959b904"
    "2600000020000000742030313233",
};

TEST(BundleChunk, PinnedBytes) {
  EXPECT_EQ(to_hex(bundle_id(kBundle)), kIdHex);
  const auto chunks = bundle_chunks(kBundle, bundle_chunk_header_bytes + 16);
  ASSERT_EQ(chunks.size(), 3u);
  for (std::size_t i = 0; i < chunks.size(); ++i) EXPECT_EQ(to_hex(chunks[i]), kChunkHex[i]) << i;
}

TEST(BundleChunk, DecodesWhatItEncodes) {
  const auto chunks = bundle_chunks(kBundle, bundle_chunk_header_bytes + 16);
  ASSERT_EQ(chunks.size(), 3u);
  auto c = decode_bundle_chunk(chunks[1]);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(to_hex(c->id), kIdHex);
  EXPECT_EQ(c->total, kBundle.size());
  EXPECT_EQ(c->offset, 16u);
  EXPECT_EQ(std::string(c->data.begin(), c->data.end()), "undle: chunk tes");
  EXPECT_EQ(encode_bundle_chunk(*c), chunks[1]);
}

TEST(BundleChunk, RefusesBadHeaders) {
  const auto good = bundle_chunks(kBundle, bundle_chunk_header_bytes + 16)[0];
  auto with = [&](std::size_t at, std::uint8_t v) {
    auto b = good;
    b[at] = v;
    return b;
  };
  // Header only, no data; shorter than a header; not CGRB.
  EXPECT_FALSE(decode_bundle_chunk(std::span(good).first(bundle_chunk_header_bytes)).ok());
  EXPECT_FALSE(decode_bundle_chunk(std::span(good).first(10)).ok());
  EXPECT_FALSE(decode_bundle_chunk(with(0, 'X')).ok());
  EXPECT_FALSE(is_bundle_chunk(with(3, 'X')));
  // Unknown format; padding not zero.
  EXPECT_FALSE(decode_bundle_chunk(with(4, 2)).ok());
  for (std::size_t at : {5u, 6u, 7u}) EXPECT_FALSE(decode_bundle_chunk(with(at, 1)).ok()) << at;
  // Total 0; total over the limit; data past the total.
  auto total = [&](std::uint32_t t) {
    auto b = good;
    for (int i = 0; i < 4; ++i) b[40 + i] = static_cast<std::uint8_t>(t >> (8 * i));
    return b;
  };
  EXPECT_FALSE(decode_bundle_chunk(total(0)).ok());
  EXPECT_FALSE(decode_bundle_chunk(total(limits::rules_bundle_bytes_max + 1)).ok());
  EXPECT_FALSE(decode_bundle_chunk(total(15)).ok());
  EXPECT_TRUE(decode_bundle_chunk(total(16)).ok());
  // Offset at or past the total.
  EXPECT_FALSE(decode_bundle_chunk(with(44, 38)).ok());
  for (const auto& r : {with(0, 'X'), with(4, 2), total(0)})
    EXPECT_EQ(decode_bundle_chunk(r).status().code(), Code::malformed);
}

TEST(BundleChunk, CutsNothingItCannotCarry) {
  EXPECT_TRUE(bundle_chunks({}, 1000).empty());
  EXPECT_TRUE(bundle_chunks(kBundle, bundle_chunk_header_bytes).empty());
  const std::vector<std::uint8_t> huge(limits::rules_bundle_bytes_max + 1, 'x');
  EXPECT_TRUE(bundle_chunks(huge, 1400).empty());
}

TEST(BundleChunk, AssemblesInAnyOrderAndChecksTheId) {
  auto chunks = bundle_chunks(kBundle, bundle_chunk_header_bytes + 16);
  BundleAssembler a;
  for (std::size_t i : {2u, 0u, 2u}) {
    auto r = a.add(chunks[i]);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(r->has_value());
  }
  auto whole = a.add(chunks[1]);
  ASSERT_TRUE(whole.ok() && whole->has_value());
  EXPECT_EQ(**whole, kBundle);

  chunks[1][bundle_chunk_header_bytes] ^= 1;  // data that does not hash to the id
  BundleAssembler b;
  for (std::size_t i : {0u, 2u}) ASSERT_TRUE(b.add(chunks[i]).ok());
  EXPECT_EQ(b.add(chunks[1]).status().code(), Code::malformed);
}

}  // namespace
}  // namespace cg::approval
