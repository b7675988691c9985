// The link's wire format: frames (one per UDP datagram), the block payload they carry, and the
// heartbeat body. The byte layout is written as a grammar in schemas/FORMATS.md ("Link frame");
// tests/unit/link/frame_test.cc pins the bytes of fixed cases.
//
// Every frame ends in a 16-byte keyed BLAKE2b tag over everything before it, under the link
// key. parse_frame() checks the size bounds and then the tag before it looks at any field, so
// forged or corrupted datagrams never reach the rest of the parser.
//
// Pure functions over caller-owned buffers; thread-safe. Internal to gateway/link: other
// modules include link.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "crypto/secret.h"
#include "gateway/common/byte_reader.h"
#include "gateway/common/status.h"

namespace cg::link {

inline constexpr std::uint32_t frame_magic = 0x464C4743;  // "CGLF" little-endian
inline constexpr std::uint8_t frame_version = 1;
inline constexpr std::size_t frame_header_bytes = 52;
inline constexpr std::size_t frame_tag_bytes = 16;
inline constexpr std::size_t frame_overhead_bytes = frame_header_bytes + frame_tag_bytes;
inline constexpr std::size_t link_key_bytes = 32;
// Block numbers, heartbeat newest-block numbers and control record ids are below 2^63.
inline constexpr std::uint64_t block_number_limit = std::uint64_t{1} << 63;

enum class FrameKind : std::uint8_t {
  data = 1,       // one fragment (data or parity) of a block
  heartbeat = 2,  // newest block number, settings, recent blocks' sequence ranges
  control = 3,    // one repetition of a control record (epoch announcement, ...)
};

inline constexpr std::uint8_t frame_flag_flash = 0x01;  // data: the block holds FLASH envelopes

struct FrameHeader {
  FrameKind kind = FrameKind::data;
  std::uint8_t index = 0;  // data: fragment index (< k + m); control: repetition number
  std::uint8_t k = 0;      // data fragments of the block (0 for other kinds)
  std::uint8_t m = 0;      // parity fragments of the block (0 for other kinds)
  std::uint8_t flags = 0;
  std::uint16_t payload_len = 0;  // bytes between header and tag
  std::uint32_t link_id = 0;
  std::uint32_t settings_fp = 0;
  std::uint64_t session = 0;
  std::uint64_t block = 0;      // data: block number (≥ 1); heartbeat: newest; control: id
  std::uint64_t first_seq = 0;  // data: sequence number of the block's first entry
  std::uint32_t count = 0;      // data: entries in the block (consecutive sequence numbers)
  std::uint32_t block_len = 0;  // data: block payload bytes before padding; control: payload
};

struct Frame {
  FrameHeader header;
  std::span<const std::uint8_t> payload;  // view into the datagram
};

// Link settings both ends must agree on. Their fingerprint travels in every frame; a receiver
// configured differently drops the frames and says what differs.
struct Settings {
  std::uint32_t link_id = 0;
  std::uint8_t data_fragments = 64;    // k of a full block
  std::uint8_t parity_fragments = 16;  // m of every block (25% of a full block)
  std::uint16_t datagram_bytes = 1472;

  std::size_t fragment_bytes() const { return datagram_bytes - frame_overhead_bytes; }
  std::size_t block_payload_max() const { return data_fragments * fragment_bytes(); }
  bool operator==(const Settings&) const = default;
};

// Errors: malformed, naming the setting out of range.
Status validate(const Settings& settings);
// First 4 bytes of BLAKE2b-128("cellgate link settings v1" ‖ settings), little-endian.
std::uint32_t settings_fingerprint(const Settings& settings);

// Writes header ‖ payload ‖ tag into `out` (which must hold frame_overhead_bytes +
// payload.size() bytes) and returns the frame's size. header.payload_len is set from
// payload.size(). `key` must be link_key_bytes long.
std::size_t write_frame(FrameHeader header, std::span<const std::uint8_t> payload,
                        const crypto::Secret& key, std::span<std::uint8_t> out);

// Parses one datagram. Checks, in order: size within [frame_overhead_bytes, datagram_max]
// (malformed "truncated"/"oversized"), the tag (unauthenticated), then the header's structure
// (malformed). On success the payload is a view into `datagram`.
Result<Frame> parse_frame(std::span<const std::uint8_t> datagram, const crypto::Secret& key,
                          std::size_t datagram_max);

// --- Block payload ------------------------------------------------------------------------
// A block is a run of entries, one per envelope or envelope segment, with consecutive
// sequence numbers starting at the frame header's first_seq.
inline constexpr std::size_t entry_header_bytes = 13;
inline constexpr std::uint8_t entry_flag_flash = 0x01;

struct Entry {
  std::uint8_t flags = 0;
  std::uint32_t total_len = 0;  // the whole envelope's length
  std::uint32_t offset = 0;     // where this segment starts within the envelope
  std::span<const std::uint8_t> bytes;
  bool whole() const { return offset == 0 && bytes.size() == total_len; }
};

void write_entry(ByteWriter& out, const Entry& entry);

// Reads `count` entries from a block payload; anything after them is malformed.
class BlockReader final {
 public:
  BlockReader(std::span<const std::uint8_t> payload, std::uint32_t count)
      : reader_(payload), left_(count) {}
  // The next entry, nullopt at the end or on error (then status() says which).
  std::optional<Entry> next();
  const Status& status() const { return status_; }

 private:
  ByteReader reader_;
  std::uint32_t left_;
  Status status_;
};

// --- Heartbeat ----------------------------------------------------------------------------
struct BlockRange {
  std::uint64_t first_seq = 0;
  std::uint32_t count = 0;
};

struct Heartbeat {
  Settings settings;                // the sender's, said plainly
  std::uint64_t newest_block = 0;   // from the frame header; 0 = no block yet
  std::vector<BlockRange> history;  // blocks newest-n+1 … newest
};

// The number of history entries that fit in a heartbeat of `datagram_bytes`.
std::size_t heartbeat_history_capacity(std::size_t datagram_bytes);
void write_heartbeat_payload(const Heartbeat& hb, std::vector<std::uint8_t>& out);
// Errors: malformed (bad length, more history than blocks, history beyond the limit).
Result<Heartbeat> parse_heartbeat(const Frame& frame);

}  // namespace cg::link
