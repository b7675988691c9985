#include "gateway/link/frame.h"

#include <algorithm>
#include <array>
#include <string>

#include "crypto/fixed.h"
#include "gateway/common/assert.h"
#include "gateway/link/limits.h"

namespace cg::link {
namespace {

void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

void compute_tag(std::span<const std::uint8_t> message, const crypto::Secret& key,
                 std::uint8_t* tag) {
  CG_ASSERT(key.size() == link_key_bytes);
  const crypto::Bytes parts[] = {message};
  crypto::blake2b(parts, {tag, frame_tag_bytes}, key.bytes());
}

Status check_data_header(const FrameHeader& h) {
  if (h.k == 0) return malformed("data frame with k = 0");
  if (h.m > limits::parity_fragments_max) return malformed("too many parity fragments");
  if (std::size_t{h.k} + h.m > limits::fragments_per_block_max) {
    return malformed("more than 255 fragments per block");
  }
  if (h.index >= h.k + h.m) return malformed("fragment index beyond k + m");
  if (h.payload_len == 0) return malformed("empty fragment");
  if (h.block == 0) return malformed("block number 0");
  if (h.flags & ~frame_flag_flash) return malformed("unknown frame flags");
  const std::uint64_t frag = h.payload_len;
  // The block length decides k: the sender uses the fewest fragments that hold the block.
  if (h.block_len == 0 || h.block_len > h.k * frag || h.block_len <= (h.k - 1) * frag) {
    return malformed("block length does not match k and fragment length");
  }
  if (h.count == 0 || h.count > h.block_len / entry_header_bytes) {
    return malformed("entry count does not fit the block length");
  }
  if (h.first_seq > UINT64_MAX - h.count) return malformed("sequence range wraps around");
  return Status();
}

Status check_header(const FrameHeader& h, std::size_t payload_len) {
  if (h.payload_len != payload_len) return malformed("payload length mismatch");
  // Block numbers and record ids count up from 1 within a session; 2^63 is never reached, and
  // keeping them below it means `block + 1` can never wrap in the receiver.
  if (h.block >= block_number_limit) return malformed("block number out of range");
  switch (h.kind) {
    case FrameKind::data:
      return check_data_header(h);
    case FrameKind::heartbeat:
      if (h.k != 0 || h.m != 0 || h.index != 0 || h.flags != 0 || h.first_seq != 0 ||
          h.count != 0 || h.block_len != 0) {
        return malformed("heartbeat with data fields set");
      }
      return Status();
    case FrameKind::control:
      if (h.k != 0 || h.m != 0 || h.flags != 0 || h.first_seq != 0 || h.count != 0 ||
          h.block_len != h.payload_len || h.block == 0) {
        return malformed("control frame with data fields set");
      }
      return Status();
  }
  return malformed("unknown frame kind");
}

}  // namespace

Status validate(const Settings& s) {
  if (s.datagram_bytes < limits::datagram_bytes_min ||
      s.datagram_bytes > limits::datagram_bytes_max) {
    return malformed("link datagram_bytes must be within [512, 65507]");
  }
  if (s.data_fragments == 0) return malformed("link data_fragments must be at least 1");
  if (s.parity_fragments > limits::parity_fragments_max) {
    return malformed("link parity_fragments must be at most 128");
  }
  if (std::size_t{s.data_fragments} + s.parity_fragments > limits::fragments_per_block_max) {
    return malformed("link data_fragments + parity_fragments must be at most 255");
  }
  if (s.block_payload_max() > UINT32_MAX) return malformed("link block too large");
  return Status();
}

std::uint32_t settings_fingerprint(const Settings& s) {
  static constexpr char domain[] = "cellgate link settings v1";
  std::vector<std::uint8_t> bytes(domain, domain + sizeof(domain) - 1);
  ByteWriter w(bytes);
  w.u32(s.link_id);
  w.u8(s.data_fragments);
  w.u8(s.parity_fragments);
  w.u16(s.datagram_bytes);
  std::array<std::uint8_t, 16> hash{};
  const crypto::Bytes parts[] = {bytes};
  crypto::blake2b(parts, hash);
  return static_cast<std::uint32_t>(hash[0]) | static_cast<std::uint32_t>(hash[1]) << 8 |
         static_cast<std::uint32_t>(hash[2]) << 16 | static_cast<std::uint32_t>(hash[3]) << 24;
}

std::size_t write_frame(FrameHeader h, std::span<const std::uint8_t> payload,
                        const crypto::Secret& key, std::span<std::uint8_t> out) {
  const std::size_t size = frame_overhead_bytes + payload.size();
  CG_ASSERT(out.size() >= size);
  CG_ASSERT(payload.size() <= UINT16_MAX);
  h.payload_len = static_cast<std::uint16_t>(payload.size());
  std::uint8_t* p = out.data();
  put_u32(p + 0, frame_magic);
  p[4] = frame_version;
  p[5] = static_cast<std::uint8_t>(h.kind);
  p[6] = h.index;
  p[7] = h.k;
  p[8] = h.m;
  p[9] = h.flags;
  put_u16(p + 10, h.payload_len);
  put_u32(p + 12, h.link_id);
  put_u32(p + 16, h.settings_fp);
  put_u64(p + 20, h.session);
  put_u64(p + 28, h.block);
  put_u64(p + 36, h.first_seq);
  put_u32(p + 44, h.count);
  put_u32(p + 48, h.block_len);
  if (!payload.empty()) std::copy(payload.begin(), payload.end(), p + frame_header_bytes);
  const std::size_t body = frame_header_bytes + payload.size();
  compute_tag(out.first(body), key, p + body);
  return size;
}

Result<Frame> parse_frame(std::span<const std::uint8_t> datagram, const crypto::Secret& key,
                          std::size_t datagram_max) {
  if (datagram.size() < frame_overhead_bytes) return malformed("truncated frame");
  if (datagram.size() > datagram_max) return malformed("oversized frame");
  const std::size_t body = datagram.size() - frame_tag_bytes;
  std::array<std::uint8_t, frame_tag_bytes> tag{};
  compute_tag(datagram.first(body), key, tag.data());
  if (!crypto::ct_equal(tag, datagram.subspan(body))) return unauthenticated("bad frame MAC");

  ByteReader r(datagram.first(body));
  Frame f;
  FrameHeader& h = f.header;
  const auto magic = r.u32();
  const auto version = r.u8();
  const auto kind = r.u8();
  h.index = r.u8().value_or(0);
  h.k = r.u8().value_or(0);
  h.m = r.u8().value_or(0);
  h.flags = r.u8().value_or(0);
  h.payload_len = r.u16().value_or(0);
  h.link_id = r.u32().value_or(0);
  h.settings_fp = r.u32().value_or(0);
  h.session = r.u64().value_or(0);
  h.block = r.u64().value_or(0);
  h.first_seq = r.u64().value_or(0);
  h.count = r.u32().value_or(0);
  h.block_len = r.u32().value_or(0);
  // The size check above guarantees the header is there.
  CG_ASSERT(r.ok() && magic && version && kind);
  if (*magic != frame_magic) return malformed("bad frame magic");
  if (*version != frame_version) return malformed("unsupported frame version");
  if (*kind < 1 || *kind > 3) return malformed("unknown frame kind");
  h.kind = static_cast<FrameKind>(*kind);
  f.payload = r.rest();
  CG_RETURN_IF_ERROR(check_header(h, f.payload.size()));
  return f;
}

void write_entry(ByteWriter& out, const Entry& e) {
  out.u8(e.flags);
  out.u32(e.total_len);
  out.u32(e.offset);
  out.u32(static_cast<std::uint32_t>(e.bytes.size()));
  out.bytes(e.bytes);
}

std::optional<Entry> BlockReader::next() {
  if (!status_.ok()) return std::nullopt;
  if (left_ == 0) {
    if (!reader_.at_end()) status_ = malformed("bytes after the block's last entry");
    return std::nullopt;
  }
  Entry e;
  const auto flags = reader_.u8();
  const auto total = reader_.u32();
  const auto offset = reader_.u32();
  const auto len = reader_.u32();
  if (!reader_.ok()) {
    status_ = malformed("truncated block entry");
    return std::nullopt;
  }
  if (*flags & ~entry_flag_flash) {
    status_ = malformed("unknown entry flags");
    return std::nullopt;
  }
  if (*len == 0 || *total > limits::envelope_bytes_max || std::uint64_t{*offset} + *len > *total) {
    status_ = malformed("entry segment outside its envelope");
    return std::nullopt;
  }
  const auto bytes = reader_.bytes(*len);
  if (!bytes) {
    status_ = malformed("truncated block entry");
    return std::nullopt;
  }
  e.flags = *flags;
  e.total_len = *total;
  e.offset = *offset;
  e.bytes = *bytes;
  --left_;
  return e;
}

std::size_t heartbeat_history_capacity(std::size_t datagram_bytes) {
  constexpr std::size_t fixed = 10, per = 12;
  if (datagram_bytes < frame_overhead_bytes + fixed) return 0;
  return std::min(limits::heartbeat_history_max,
                  (datagram_bytes - frame_overhead_bytes - fixed) / per);
}

void write_heartbeat_payload(const Heartbeat& hb, std::vector<std::uint8_t>& out) {
  ByteWriter w(out);
  w.u32(hb.settings.link_id);
  w.u8(hb.settings.data_fragments);
  w.u8(hb.settings.parity_fragments);
  w.u16(hb.settings.datagram_bytes);
  w.u16(static_cast<std::uint16_t>(hb.history.size()));
  for (const BlockRange& r : hb.history) {
    w.u64(r.first_seq);
    w.u32(r.count);
  }
}

Result<Heartbeat> parse_heartbeat(const Frame& frame) {
  CG_ASSERT(frame.header.kind == FrameKind::heartbeat);
  ByteReader r(frame.payload);
  Heartbeat hb;
  hb.newest_block = frame.header.block;
  hb.settings.link_id = r.u32().value_or(0);
  hb.settings.data_fragments = r.u8().value_or(0);
  hb.settings.parity_fragments = r.u8().value_or(0);
  hb.settings.datagram_bytes = r.u16().value_or(0);
  const std::uint16_t n = r.u16().value_or(0);
  if (!r.ok()) return malformed("truncated heartbeat");
  if (n > limits::heartbeat_history_max) return malformed("heartbeat history too long");
  if (n > hb.newest_block) return malformed("heartbeat history before block 1");
  if (r.remaining() != std::size_t{n} * 12) return malformed("heartbeat length mismatch");
  hb.history.resize(n);
  for (BlockRange& b : hb.history) {
    b.first_seq = r.u64().value_or(0);
    b.count = r.u32().value_or(0);
    if (b.count == 0) return malformed("heartbeat names an empty block");
    if (b.first_seq > UINT64_MAX - b.count) return malformed("sequence range wraps around");
  }
  return hb;
}

}  // namespace cg::link
