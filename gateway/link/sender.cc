// Sender logic: staging, packing into blocks, FEC, interleaved groups, pacing, heartbeats and
// control records. No sockets, no threads; time comes from the Clock.
#include <algorithm>
#include <cstring>

#include "gateway/common/assert.h"
#include "gateway/link/link.h"

namespace cg::link {
namespace {

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

}  // namespace

Status validate(const SenderOptions& o) {
  CG_RETURN_IF_ERROR(validate(o.settings));
  if (o.pace_bytes_per_s < o.settings.datagram_bytes) {
    return malformed("link pace_bytes_per_s must allow at least one datagram per second");
  }
  if (o.interleave_depth == 0 || o.interleave_depth > limits::interleave_depth_max) {
    return malformed("link interleave_depth must be within [1, 32]");
  }
  if (o.staging_bytes_max < limits::envelope_bytes_max ||
      o.staging_bytes_max > limits::staging_bytes_max) {
    return malformed("link staging_bytes_max must hold one largest envelope and be <= 64 MiB");
  }
  if (o.staged_envelopes_max == 0 || o.staged_envelopes_max > limits::staged_envelopes_max) {
    return malformed("link staged_envelopes_max out of range");
  }
  if (o.heartbeat_interval_ns <= 0 || o.control_repeat_interval_ns <= 0) {
    return malformed("link heartbeat and control intervals must be positive");
  }
  if (o.heartbeat_every_blocks == 0 ||
      o.heartbeat_every_blocks > heartbeat_history_capacity(o.settings.datagram_bytes) / 2) {
    return malformed("link heartbeat_every_blocks must be at most half the heartbeat history");
  }
  return Status();
}

Sender::Sender(const SenderOptions& options, const crypto::Secret& key, const Clock& clock)
    : options_(options),
      key_(key),
      clock_(clock),
      fp_(settings_fingerprint(options.settings)),
      session_(options.session != 0 ? options.session
                                    : static_cast<std::uint64_t>(clock.now_ns())) {
  CG_ASSERT(validate(options).ok());
  CG_ASSERT(key.size() == link_key_bytes);
  history_.resize(limits::heartbeat_history_max);
  datagrams_.resize(limits::io_batch_max * options.settings.datagram_bytes);
  const double two_ms = static_cast<double>(options.pace_bytes_per_s) / 500.0;
  burst_bytes_ = std::max({static_cast<double>(options.pace_burst_bytes), two_ms,
                           64.0 * options.settings.datagram_bytes});
  tokens_ = burst_bytes_;
  tokens_at_ns_ = clock.monotonic_ns();
  heartbeat_.settings = options.settings;
}

bool Sender::stage_push(Stage& stage, std::uint64_t seq, std::uint8_t flags,
                        std::span<const std::uint8_t> bytes) {
  if (stage.bytes + bytes.size() > options_.staging_bytes_max ||
      stage.items.size() >= options_.staged_envelopes_max) {
    return false;
  }
  std::size_t tail = stage.items.empty() ? 0 : stage.items.back().offset + stage.items.back().len;
  // The buffer holds twice the staging bound plus one envelope, so after moving what is still
  // staged to the front at least staging_bytes_max is free again: each byte is moved at most
  // about once. Pages are only touched as they are used.
  const std::size_t cap = 2 * options_.staging_bytes_max + limits::envelope_bytes_max;
  if (!stage.buffer) stage.buffer = std::make_unique_for_overwrite<std::uint8_t[]>(cap);
  if (tail + bytes.size() > cap) {
    const std::size_t first = stage.items.front().offset;
    std::memmove(stage.buffer.get(), stage.buffer.get() + first, tail - first);
    for (Staged& s : stage.items) s.offset -= first;
    tail -= first;
    CG_ASSERT(tail + bytes.size() <= cap);
  }
  std::memcpy(stage.buffer.get() + tail, bytes.data(), bytes.size());
  stage.items.push_back(Staged{seq, flags, tail, static_cast<std::uint32_t>(bytes.size()), 0});
  stage.bytes += bytes.size();
  return true;
}

Status Sender::submit(std::uint64_t seq, std::span<const std::uint8_t> envelope,
                      Precedence precedence) {
  if (envelope.empty()) return malformed("empty envelope");
  if (envelope.size() > limits::envelope_bytes_max) return malformed("envelope too large");
  const bool flash = precedence == Precedence::flash;
  if (!stage_push(flash ? flash_ : bulk_, seq, flash ? entry_flag_flash : 0, envelope)) {
    counters_.submits_overloaded.fetch_add(1, std::memory_order_relaxed);
    return overloaded("link sender staging is full");
  }
  counters_.envelopes_submitted.fetch_add(1, std::memory_order_relaxed);
  counters_.envelope_bytes_submitted.fetch_add(envelope.size(), std::memory_order_relaxed);
  return Status();
}

Result<std::uint64_t> Sender::submit_control(std::span<const std::uint8_t> payload,
                                             std::uint32_t repeats) {
  if (payload.empty() || payload.size() > options_.settings.fragment_bytes()) {
    return malformed("control record must fit one frame");
  }
  if (repeats == 0 || repeats > limits::control_repeats_max) {
    return malformed("control record repeats must be within [1, 1000]");
  }
  if (controls_.size() >= limits::control_records_max) {
    return overloaded("too many control records being repeated");
  }
  const std::uint64_t id = next_control_++;
  controls_.push_back(Control{id, std::vector<std::uint8_t>(payload.begin(), payload.end()),
                              repeats, 0, clock_.monotonic_ns()});
  return id;
}

std::size_t Sender::packed_bytes(const Stage& stage) {
  return stage.bytes + stage.items.size() * entry_header_bytes;
}

Sender::Block Sender::pack(Stage& stage, std::size_t capacity) {
  CG_ASSERT(capacity > entry_header_bytes);
  Block b;
  if (!spare_buffers_.empty()) {
    b.fragments = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
  }
  b.fragments.clear();
  ByteWriter w(b.fragments);
  std::uint64_t last = 0;
  while (!stage.items.empty()) {
    Staged& it = stage.items.front();
    if (b.count > 0 && it.seq != last + 1) break;  // a block holds consecutive seqs only
    const std::size_t room = capacity - b.fragments.size();
    if (room <= entry_header_bytes) break;
    const std::size_t take = std::min<std::size_t>(it.len - it.consumed, room - entry_header_bytes);
    if (b.count == 0) {
      b.first_seq = it.seq;
      b.flags = (it.flags & entry_flag_flash) ? frame_flag_flash : 0;
    }
    write_entry(w, Entry{it.flags, it.len, it.consumed,
                         std::span<const std::uint8_t>(stage.buffer.get() + it.offset + it.consumed,
                                                       take)});
    it.consumed += static_cast<std::uint32_t>(take);
    stage.bytes -= take;
    ++b.count;
    last = it.seq;
    if (it.consumed < it.len) break;  // the block is full; the rest goes in the next one
    stage.items.pop_front();
  }
  b.block_len = static_cast<std::uint32_t>(b.fragments.size());
  CG_ASSERT(b.count > 0);
  return b;
}

void Sender::seal(Block& b) {
  const std::size_t frag_max = options_.settings.fragment_bytes();
  const std::size_t k = ceil_div(b.block_len, frag_max);
  const std::size_t frag_len = ceil_div(b.block_len, k);
  CG_ASSERT(k >= 1 && k <= options_.settings.data_fragments);
  CG_ASSERT((k - 1) * frag_len < b.block_len);  // parse_frame's canonical-k rule
  b.k = static_cast<std::uint8_t>(k);
  b.m = options_.settings.parity_fragments;
  b.frag_len = static_cast<std::uint16_t>(frag_len);
  b.next_index = 0;
  b.fragments.resize((k + b.m) * frag_len);  // zero padding and room for parity
  std::fill(b.fragments.begin() + b.block_len, b.fragments.begin() + k * frag_len, 0);
  fec_.encode(static_cast<int>(k), b.m, frag_len, b.fragments);
  b.number = next_block_++;
  history_[b.number % history_.size()] = BlockRange{b.first_seq, b.count};
  ++blocks_since_heartbeat_;
  counters_.blocks_sealed.fetch_add(1, std::memory_order_relaxed);
  if (b.flags & frame_flag_flash) {
    counters_.flash_blocks_sealed.fetch_add(1, std::memory_order_relaxed);
  }
}

void Sender::form_group(Stage& stage, std::vector<Block>& group) {
  CG_ASSERT(group.empty());
  const std::size_t depth = options_.interleave_depth;
  const std::size_t full = options_.settings.block_payload_max();
  // Enough for a group of full blocks: take them. Otherwise cut what is staged into `depth`
  // equal blocks, so the last envelopes before a pause are interleaved like the rest.
  const std::size_t packed = packed_bytes(stage);
  const std::size_t capacity =
      packed >= depth * full ? full : std::min(full, ceil_div(packed, depth) + entry_header_bytes);
  while (!stage.items.empty() && group.size() < depth) {
    group.push_back(pack(stage, capacity));
    seal(group.back());
  }
}

void Sender::refill_tokens(std::int64_t now_ns) {
  if (now_ns > tokens_at_ns_) {
    tokens_ += static_cast<double>(now_ns - tokens_at_ns_) *
               static_cast<double>(options_.pace_bytes_per_s) / 1e9;
    tokens_ = std::min(tokens_, burst_bytes_);
    tokens_at_ns_ = now_ns;
  }
}

std::deque<Sender::Control>::iterator Sender::due_control(std::int64_t now_ns) {
  return std::find_if(controls_.begin(), controls_.end(),
                      [now_ns](const Control& c) { return c.due_ns <= now_ns; });
}

Sender::Next Sender::pick(std::int64_t now_ns, std::size_t& frame_bytes) {
  if (now_ns >= heartbeat_due_ns_ || blocks_since_heartbeat_ >= options_.heartbeat_every_blocks) {
    const std::size_t n = std::min<std::uint64_t>(
        heartbeat_history_capacity(options_.settings.datagram_bytes), next_block_ - 1);
    frame_bytes = frame_overhead_bytes + 10 + 12 * n;
    return Next::heartbeat;
  }
  if (auto c = due_control(now_ns); c != controls_.end()) {
    frame_bytes = frame_overhead_bytes + c->payload.size();
    return Next::control;
  }
  if (flash_active_.empty() && !flash_.items.empty()) form_group(flash_, flash_active_);
  if (!flash_active_.empty()) {
    frame_bytes = frame_overhead_bytes + flash_active_[flash_rr_ % flash_active_.size()].frag_len;
    return Next::flash;
  }
  if (active_.empty() && !bulk_.items.empty()) form_group(bulk_, active_);
  if (!active_.empty()) {
    frame_bytes = frame_overhead_bytes + active_[rr_ % active_.size()].frag_len;
    return Next::bulk;
  }
  return Next::none;
}

std::size_t Sender::write_fragment(std::vector<Block>& group, std::size_t& rr,
                                   std::span<std::uint8_t> out) {
  rr %= group.size();
  Block& b = group[rr];
  FrameHeader h;
  h.kind = FrameKind::data;
  h.index = b.next_index;
  h.k = b.k;
  h.m = b.m;
  h.flags = b.flags;
  h.link_id = options_.settings.link_id;
  h.settings_fp = fp_;
  h.session = session_;
  h.block = b.number;
  h.first_seq = b.first_seq;
  h.count = b.count;
  h.block_len = b.block_len;
  const auto fragment =
      std::span(b.fragments).subspan(std::size_t{b.next_index} * b.frag_len, b.frag_len);
  const std::size_t n = write_frame(h, fragment, key_, out);
  (b.next_index < b.k ? counters_.data_frames_sent : counters_.parity_frames_sent)
      .fetch_add(1, std::memory_order_relaxed);
  if (++b.next_index == b.k + b.m) {
    spare_buffers_.push_back(std::move(b.fragments));
    group.erase(group.begin() + static_cast<std::ptrdiff_t>(rr));  // rr now names the next one
  } else {
    ++rr;
  }
  return n;
}

std::size_t Sender::write_heartbeat(std::int64_t now_ns, std::span<std::uint8_t> out) {
  const std::uint64_t newest = next_block_ - 1;
  const std::size_t n =
      std::min<std::uint64_t>(heartbeat_history_capacity(options_.settings.datagram_bytes), newest);
  heartbeat_.newest_block = newest;
  heartbeat_.history.clear();
  for (std::uint64_t b = newest + 1 - n; b <= newest && n > 0; ++b) {
    heartbeat_.history.push_back(history_[b % history_.size()]);
  }
  scratch_.clear();
  write_heartbeat_payload(heartbeat_, scratch_);
  FrameHeader h;
  h.kind = FrameKind::heartbeat;
  h.link_id = options_.settings.link_id;
  h.settings_fp = fp_;
  h.session = session_;
  h.block = newest;
  heartbeat_due_ns_ = now_ns + options_.heartbeat_interval_ns;
  blocks_since_heartbeat_ = 0;
  counters_.heartbeats_sent.fetch_add(1, std::memory_order_relaxed);
  return write_frame(h, scratch_, key_, out);
}

std::size_t Sender::write_control(std::int64_t now_ns, std::span<std::uint8_t> out) {
  const auto c = due_control(now_ns);
  CG_ASSERT(c != controls_.end());
  FrameHeader h;
  h.kind = FrameKind::control;
  h.index = c->repetition++;
  h.link_id = options_.settings.link_id;
  h.settings_fp = fp_;
  h.session = session_;
  h.block = c->id;
  h.block_len = static_cast<std::uint32_t>(c->payload.size());
  const std::size_t n = write_frame(h, c->payload, key_, out);
  c->due_ns = now_ns + options_.control_repeat_interval_ns;
  if (--c->repeats_left == 0) {
    controls_.erase(c);
  }
  counters_.control_frames_sent.fetch_add(1, std::memory_order_relaxed);
  return n;
}

std::size_t Sender::produce(std::span<std::span<const std::uint8_t>> out) {
  const std::int64_t now = clock_.monotonic_ns();
  refill_tokens(now);
  const std::size_t dg = options_.settings.datagram_bytes;
  std::size_t n = 0;
  while (n < out.size() && n < limits::io_batch_max) {
    std::size_t bytes = 0;
    const Next next = pick(now, bytes);
    if (next == Next::none || tokens_ < static_cast<double>(bytes)) break;
    const auto buf = std::span(datagrams_).subspan(n * dg, dg);
    std::size_t len = 0;
    switch (next) {
      case Next::heartbeat:
        len = write_heartbeat(now, buf);
        break;
      case Next::control:
        len = write_control(now, buf);
        break;
      case Next::flash:
        len = write_fragment(flash_active_, flash_rr_, buf);
        break;
      case Next::bulk:
        len = write_fragment(active_, rr_, buf);
        break;
      case Next::none:
        CG_UNREACHABLE();
    }
    CG_ASSERT(len == bytes);
    tokens_ -= static_cast<double>(len);
    counters_.frames_sent.fetch_add(1, std::memory_order_relaxed);
    counters_.bytes_sent.fetch_add(len, std::memory_order_relaxed);
    out[n++] = buf.first(len);
  }
  return n;
}

std::int64_t Sender::next_due_ns() {
  const std::int64_t now = clock_.monotonic_ns();
  refill_tokens(now);
  std::int64_t due = heartbeat_due_ns_;
  for (const Control& c : controls_) due = std::min(due, c.due_ns);
  const bool data =
      !bulk_.items.empty() || !flash_.items.empty() || !active_.empty() || !flash_active_.empty();
  if (data || blocks_since_heartbeat_ >= options_.heartbeat_every_blocks) due = now;
  // Pacing: the next datagram (at most datagram_bytes) needs that many tokens.
  const double need = static_cast<double>(options_.settings.datagram_bytes) - tokens_;
  if (need > 0) {
    const auto wait_ns =
        static_cast<std::int64_t>(need * 1e9 / static_cast<double>(options_.pace_bytes_per_s));
    due = std::max(due, now + wait_ns);
  }
  return due;
}

std::uint64_t Sender::unsent_floor() const {
  std::uint64_t floor = UINT64_MAX;
  if (!bulk_.items.empty()) floor = std::min(floor, bulk_.items.front().seq);
  if (!flash_.items.empty()) floor = std::min(floor, flash_.items.front().seq);
  for (const Block& b : active_) floor = std::min(floor, b.first_seq);
  for (const Block& b : flash_active_) floor = std::min(floor, b.first_seq);
  return floor;
}

Sender::Queued Sender::queued() const {
  return {bulk_.items.size() + flash_.items.size(), bulk_.bytes + flash_.bytes};
}

bool Sender::idle() const {
  return bulk_.items.empty() && flash_.items.empty() && active_.empty() && flash_active_.empty() &&
         controls_.empty();
}

}  // namespace cg::link
