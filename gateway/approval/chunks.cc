// Rules-bundle chunks on the link (schemas/FORMATS.md "Rules-bundle chunk"): the encoder,
// the bounds-checked decoder and the bounded reassembler.
#include <algorithm>

#include "crypto/secret.h"
#include "crypto/suite.h"
#include "gateway/approval/approval.h"
#include "gateway/common/assert.h"
#include "gateway/common/byte_reader.h"
#include "gateway/common/limits.h"

namespace cg::approval {
namespace {

constexpr std::uint8_t chunk_magic[4] = {'C', 'G', 'R', 'B'};
constexpr std::uint8_t chunk_format = 1;

}  // namespace

BundleId bundle_id(Bytes bundle) {
  // The id is fixed by the format (BLAKE2b-256), not by the deployment's suite: the modern
  // suite's hash is exactly that.
  const crypto::Suite& blake2b = crypto::modern_suite();
  BundleId id{};
  const Bytes parts[] = {bundle};
  blake2b.hash(parts, id);
  return id;
}

bool is_bundle_chunk(Bytes record) {
  return record.size() >= 4 && std::equal(record.begin(), record.begin() + 4, chunk_magic);
}

std::vector<std::uint8_t> encode_bundle_chunk(const BundleChunk& chunk) {
  std::vector<std::uint8_t> out;
  out.reserve(bundle_chunk_header_bytes + chunk.data.size());
  ByteWriter w(out);
  w.bytes(chunk_magic);
  w.u8(chunk_format);
  w.u8(0);
  w.u16(0);
  w.bytes(chunk.id);
  w.u32(chunk.total);
  w.u32(chunk.offset);
  w.bytes(chunk.data);
  return out;
}

Result<BundleChunk> decode_bundle_chunk(Bytes record) {
  if (record.size() <= bundle_chunk_header_bytes || !is_bundle_chunk(record))
    return malformed("bundle chunk: shorter than its header or without the CGRB magic");
  ByteReader r(record);
  r.skip(4);
  const std::uint8_t format = *r.u8();
  const std::uint8_t zero8 = *r.u8();
  const std::uint16_t zero16 = *r.u16();
  if (format != chunk_format || zero8 != 0 || zero16 != 0)
    return malformed("bundle chunk: unknown format " + std::to_string(format));
  BundleChunk c;
  const auto id = *r.bytes(bundle_id_bytes);
  std::copy(id.begin(), id.end(), c.id.begin());
  c.total = *r.u32();
  c.offset = *r.u32();
  c.data = r.rest();
  CG_ASSERT(r.ok());  // the length was checked above
  const auto len = static_cast<std::uint32_t>(c.data.size());
  if (c.total == 0 || c.total > limits::rules_bundle_bytes_max)
    return malformed("bundle chunk: bundle length " + std::to_string(c.total) + " out of range");
  if (c.offset >= c.total || len > c.total - c.offset)
    return malformed("bundle chunk: bytes " + std::to_string(c.offset) + "+" + std::to_string(len) +
                     " outside a bundle of " + std::to_string(c.total));
  return c;
}

std::vector<std::vector<std::uint8_t>> bundle_chunks(Bytes bundle, std::size_t record_bytes) {
  std::vector<std::vector<std::uint8_t>> out;
  if (bundle.empty() || record_bytes <= bundle_chunk_header_bytes ||
      bundle.size() > limits::rules_bundle_bytes_max) {
    return out;
  }
  BundleChunk c;
  c.id = bundle_id(bundle);
  c.total = static_cast<std::uint32_t>(bundle.size());
  const std::size_t step = record_bytes - bundle_chunk_header_bytes;
  for (std::size_t at = 0; at < bundle.size(); at += step) {
    c.offset = static_cast<std::uint32_t>(at);
    c.data = bundle.subspan(at, std::min(step, bundle.size() - at));
    out.push_back(encode_bundle_chunk(c));
  }
  return out;
}

Result<std::optional<std::vector<std::uint8_t>>> BundleAssembler::add(Bytes record) {
  CG_ASSIGN_OR_RETURN(const BundleChunk c, decode_bundle_chunk(record));
  const auto len = static_cast<std::uint32_t>(c.data.size());
  auto it = partials_.find(c.id);
  if (it == partials_.end()) {
    if (partials_.size() >= partials_max) {
      auto oldest = std::min_element(partials_.begin(), partials_.end(),
                                     [](auto& a, auto& b) { return a.second.age < b.second.age; });
      partials_.erase(oldest);
    }
    Partial p;
    p.total = c.total;
    p.bytes.assign(c.total, 0);
    it = partials_.emplace(c.id, std::move(p)).first;
  }
  Partial& p = it->second;
  p.age = ++clock_;
  if (p.total != c.total) return malformed("bundle chunk: chunks of one bundle disagree on length");
  auto next = p.chunks.lower_bound(c.offset);
  if (next != p.chunks.end() && next->first == c.offset) {
    if (next->second != len) return malformed("bundle chunk: chunks overlap");
    return std::optional<std::vector<std::uint8_t>>();  // a repeat
  }
  if (next != p.chunks.end() && next->first < c.offset + len)
    return malformed("bundle chunk: chunks overlap");
  if (next != p.chunks.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second > c.offset) return malformed("bundle chunk: chunks overlap");
  }
  std::copy(c.data.begin(), c.data.end(), p.bytes.begin() + c.offset);
  p.chunks.emplace(c.offset, len);
  p.filled += len;
  if (p.filled < p.total) return std::optional<std::vector<std::uint8_t>>();
  const BundleId check = bundle_id(p.bytes);
  const bool match = crypto::ct_equal(check, it->first);
  std::vector<std::uint8_t> whole = std::move(p.bytes);
  partials_.erase(it);
  if (!match) return malformed("bundle chunk: reassembled bundle does not match its id");
  return std::optional<std::vector<std::uint8_t>>(std::move(whole));
}

}  // namespace cg::approval
