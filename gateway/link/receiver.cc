// Receiver logic: MAC check first, then session and settings, then reassembly of blocks from
// any k of k + m fragments, delivery of envelopes, and exact loss reports. No sockets.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "gateway/common/assert.h"
#include "gateway/link/link.h"

namespace cg::link {
namespace {

// Blocks before the first one a receiver sees that it still tracks (and reports if they never
// arrive): one heartbeat history, so their ranges are usually known.
constexpr std::uint64_t join_slack_blocks = limits::heartbeat_history_max;

void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

std::string describe(const Settings& s, std::uint32_t fp) {
  char text[160];
  std::snprintf(text, sizeof(text), "link %u, k=%u, m=%u, datagram %u B (fingerprint %08x)",
                s.link_id, s.data_fragments, s.parity_fragments, s.datagram_bytes, fp);
  return text;
}

}  // namespace

std::string_view loss_reason_name(LossReason reason) {
  switch (reason) {
    case LossReason::timeout:
      return "timeout";
    case LossReason::memory:
      return "memory";
    case LossReason::window:
      return "window";
    case LossReason::session_ended:
      return "session_ended";
    case LossReason::malformed:
      return "malformed";
    case LossReason::incomplete:
      return "incomplete";
  }
  return "unknown";
}

Status validate(const ReceiverOptions& o) {
  CG_RETURN_IF_ERROR(validate(o.settings));
  if (o.block_timeout_ns <= 0) return malformed("link block_timeout_ns must be positive");
  if (o.window_blocks < 2 * join_slack_blocks || o.window_blocks > limits::window_blocks_max) {
    return malformed("link window_blocks must be within [128, 65536]");
  }
  if (o.blocks_in_flight_max < 2 || o.blocks_in_flight_max > limits::blocks_in_flight_max) {
    return malformed("link blocks_in_flight_max must be within [2, 4096]");
  }
  if (o.partial_envelopes_max == 0 || o.partial_envelopes_max > limits::partial_envelopes_max) {
    return malformed("link partial_envelopes_max must be within [1, 64]");
  }
  if (o.partial_bytes_max < limits::envelope_bytes_max ||
      o.partial_bytes_max > limits::partial_bytes_max) {
    return malformed("link partial_bytes_max must hold one largest envelope and be <= 64 MiB");
  }
  return Status();
}

Receiver::Receiver(const ReceiverOptions& options, const crypto::Secret& key, const Clock& clock,
                   Handler& handler)
    : options_(options),
      key_(key),
      clock_(clock),
      handler_(handler),
      fp_(settings_fingerprint(options.settings)) {
  CG_ASSERT(validate(options).ok());
  CG_ASSERT(key.size() == link_key_bytes);
  reported_ring_.reserve(limits::reported_boundaries_max);
}

void Receiver::on_datagram(std::span<const std::uint8_t> datagram) {
  bump(counters_.datagrams_received);
  bump(counters_.bytes_received, datagram.size());
  if (datagram.size() > options_.settings.datagram_bytes) return bump(counters_.frames_oversized);
  if (datagram.size() < frame_overhead_bytes) return bump(counters_.frames_truncated);
  auto frame = parse_frame(datagram, key_, options_.settings.datagram_bytes);
  if (!frame.ok()) {
    const bool bad_mac = frame.status().code() == Code::unauthenticated;
    handler_.on_refused(
        bad_mac ? "bad_mac" : "malformed",
        (bad_mac ? "refused a frame with a bad MAC (" : "refused a malformed frame (") +
            std::to_string(datagram.size()) + " bytes): " + frame.status().reason());
    return bump(bad_mac ? counters_.frames_bad_mac : counters_.frames_malformed);
  }
  const FrameHeader& h = frame->header;
  if (h.link_id != options_.settings.link_id) return bump(counters_.frames_wrong_link);
  if (!check_settings(*frame)) return;
  if (!check_session(h.session)) return;
  switch (h.kind) {
    case FrameKind::data:
      return on_data(*frame);
    case FrameKind::heartbeat:
      return on_heartbeat(*frame);
    case FrameKind::control:
      return on_control(*frame);
  }
}

bool Receiver::check_settings(const Frame& frame) {
  const FrameHeader& h = frame.header;
  if (h.settings_fp == fp_) return true;
  bump(counters_.frames_settings_mismatch);
  const std::string ours = describe(options_.settings, fp_);
  if (h.kind == FrameKind::heartbeat) {
    auto hb = parse_heartbeat(frame);
    if (hb.ok() && mismatch_detailed_fp_ != h.settings_fp) {
      mismatch_detailed_fp_ = h.settings_fp;
      handler_.on_alert({AlertKind::settings_mismatch,
                         "the sender's settings (" + describe(hb->settings, h.settings_fp) +
                             ") differ from this receiver's (" + ours +
                             "): its frames are dropped until both ends agree"});
    }
  } else if (mismatch_alerted_fp_ != h.settings_fp) {
    mismatch_alerted_fp_ = h.settings_fp;
    char text[200];
    std::snprintf(text, sizeof(text),
                  "frames with settings fingerprint %08x (block k=%u, m=%u, fragment %u B) do "
                  "not match this receiver's settings (",
                  h.settings_fp, h.k, h.m, h.payload_len);
    handler_.on_alert(
        {AlertKind::settings_mismatch, text + ours + "): they are dropped until both ends agree"});
  }
  return false;
}

bool Receiver::check_session(std::uint64_t session) {
  if (session == session_) return true;
  if (session <= options_.session_floor || session < session_) {
    bump(counters_.frames_stale_session);
    if (stale_alerted_session_ != session) {  // once per session value, not per frame
      stale_alerted_session_ = session;
      char text[240];
      std::snprintf(text, sizeof(text),
                    "link %u: frames of sender session %016llx refused (current %016llx, floor "
                    "%016llx): a replay, or a sender restarted with its clock set back",
                    options_.settings.link_id, static_cast<unsigned long long>(session),
                    static_cast<unsigned long long>(session_),
                    static_cast<unsigned long long>(options_.session_floor));
      handler_.on_alert({AlertKind::stale_session, text});
    }
    return false;
  }
  start_session(session);
  return true;
}

void Receiver::start_session(std::uint64_t session) {
  const std::uint64_t previous = session_;
  if (previous != 0) {
    for (auto& [block, slot] : slots_) {
      if (!slot.done) give_up(block, slot, LossReason::session_ended);
    }
    while (!partials_.empty()) {
      const std::uint64_t seq = partials_.begin()->first;
      report(0, true, seq, seq + 1, LossReason::incomplete);
    }
  }
  slots_.clear();
  CG_ASSERT(buffers_in_use_ == 0);
  floor_ = highest_ = 0;
  joined_ = false;
  control_ids_.clear();
  control_id_max_ = 0;
  session_ = session;
  bump(counters_.sessions_started);
  char text[120];
  std::snprintf(text, sizeof(text), "link %u: sender session %016llx started (previous %016llx)",
                options_.settings.link_id, static_cast<unsigned long long>(session),
                static_cast<unsigned long long>(previous));
  handler_.on_alert({AlertKind::session_started, text});
}

void Receiver::joined(std::uint64_t block) {
  if (joined_) return;
  joined_ = true;
  floor_ = highest_ = block > join_slack_blocks ? block - join_slack_blocks : 0;
}

bool Receiver::track_through(std::uint64_t block) {
  if (block <= floor_) return false;
  if (block <= highest_) return true;
  const std::uint64_t window = options_.window_blocks;
  if (block - floor_ > window) {
    // The sender is further ahead than we may track: give up the oldest blocks.
    while (block - floor_ > window && floor_ < highest_) {
      auto it = slots_.begin();
      CG_ASSERT(it->first == floor_ + 1);
      if (!it->second.done) give_up(it->first, it->second, LossReason::window);
      slots_.erase(it);
      ++floor_;
    }
    if (block - floor_ > window) {
      // Blocks never seen at all: one report for the whole span, ranges unknown.
      const std::uint64_t skipped = block - window - floor_;
      bump(counters_.blocks_lost, skipped);
      bump(counters_.blocks_lost_range_unknown, skipped);
      handler_.on_loss({floor_ + 1, false, 0, 0, LossReason::window});
      floor_ = highest_ = block - window;
    }
  }
  const std::int64_t now = clock_.monotonic_ns();
  for (std::uint64_t b = highest_ + 1; b <= block; ++b) slots_[b].since_ns = now;
  highest_ = block;
  return true;
}

void Receiver::acquire_buffer(std::uint64_t block) {
  while (buffers_in_use_ >= options_.blocks_in_flight_max) {
    // Evict the oldest block holding a buffer (not the one asking).
    auto victim = std::find_if(slots_.begin(), slots_.end(), [block](const auto& entry) {
      return entry.first != block && !entry.second.done && !entry.second.fragments.empty();
    });
    CG_ASSERT(victim != slots_.end());
    give_up(victim->first, victim->second, LossReason::memory);
  }
  ++buffers_in_use_;
}

void Receiver::release(Slot& slot) {
  if (slot.fragments.empty()) return;
  slot.fragments.clear();
  spare_buffers_.push_back(std::move(slot.fragments));
  slot.fragments = {};
  --buffers_in_use_;
}

void Receiver::on_data(const Frame& frame) {
  const FrameHeader& h = frame.header;
  if (h.k > options_.settings.data_fragments || h.m != options_.settings.parity_fragments ||
      h.payload_len > options_.settings.fragment_bytes()) {
    return bump(counters_.frames_malformed);  // our fingerprint, yet not our geometry
  }
  joined(h.block);
  if (!track_through(h.block)) return bump(counters_.frames_stale_block);
  Slot& s = slots_.at(h.block);
  if (s.done) return bump(counters_.frames_redundant);
  if (s.fragments.empty()) {
    acquire_buffer(h.block);
    if (!spare_buffers_.empty()) {
      s.fragments = std::move(spare_buffers_.back());
      spare_buffers_.pop_back();
    }
    s.k = h.k;
    s.m = h.m;
    s.flags = h.flags;
    s.frag_len = h.payload_len;
    s.block_len = h.block_len;
    s.first_seq = h.first_seq;
    s.count = h.count;
    s.range_known = true;
    s.received = 0;
    s.fragments.assign((std::size_t{h.k} + h.m) * h.payload_len, 0);
    s.present.assign(std::size_t{h.k} + h.m, 0);
  } else if (s.k != h.k || s.flags != h.flags || s.frag_len != h.payload_len ||
             s.block_len != h.block_len || s.first_seq != h.first_seq || s.count != h.count) {
    return bump(counters_.frames_inconsistent);
  }
  if (s.present[h.index]) return bump(counters_.frames_duplicate);
  std::memcpy(s.fragments.data() + std::size_t{h.index} * s.frag_len, frame.payload.data(),
              s.frag_len);
  s.present[h.index] = 1;
  ++s.received;
  bump(counters_.fragments_accepted);
  if (s.received >= s.k) decode(h.block, s);
}

void Receiver::decode(std::uint64_t block, Slot& s) {
  bool missing = false;
  for (int i = 0; i < s.k; ++i) missing = missing || !s.present[i];
  const bool ok = fec_.decode(s.k, s.m, s.frag_len, s.fragments, s.present);
  CG_ASSERT(ok);  // we only decode with k fragments present
  bump(counters_.blocks_decoded);
  if (missing) bump(counters_.blocks_recovered_fec);
  deliver_entries(block, s, std::span(s.fragments).first(s.block_len));
  s.done = true;
  release(s);
  advance_floor();
}

void Receiver::deliver_entries(std::uint64_t block, Slot& s,
                               std::span<const std::uint8_t> payload) {
  // Check the whole block first, so a bad one is reported whole rather than half delivered.
  BlockReader check(payload, s.count);
  while (check.next()) {
  }
  if (!check.status().ok()) {
    bump(counters_.blocks_malformed);
    report(block, true, s.first_seq, s.first_seq + s.count, LossReason::malformed);
    return;
  }
  BlockReader reader(payload, s.count);
  std::uint64_t seq = s.first_seq;
  while (auto entry = reader.next()) on_entry(seq++, *entry);
}

void Receiver::on_entry(std::uint64_t seq, const Entry& e) {
  if (!e.whole()) return on_segment(seq, e);
  bump(counters_.envelopes_delivered);
  bump(counters_.envelope_bytes_delivered, e.bytes.size());
  handler_.on_envelope({seq, (e.flags & entry_flag_flash) != 0, e.bytes});
}

void Receiver::evict_partial() {
  auto oldest = std::min_element(
      partials_.begin(), partials_.end(),
      [](const auto& a, const auto& b) { return a.second.since_ns < b.second.since_ns; });
  const std::uint64_t seq = oldest->first;
  report(0, true, seq, seq + 1, LossReason::incomplete);
}

void Receiver::on_segment(std::uint64_t seq, const Entry& e) {
  if (reported(seq)) return bump(counters_.segments_orphaned);
  auto it = partials_.find(seq);
  if (it != partials_.end() && it->second.total_len != e.total_len) {
    report(0, true, seq, seq + 1, LossReason::incomplete);  // segments disagree: give it up
    return bump(counters_.segments_orphaned);
  }
  if (it == partials_.end()) {
    if (e.total_len > options_.partial_bytes_max) {
      report(0, true, seq, seq + 1, LossReason::memory);
      return;
    }
    while (!partials_.empty() && (partials_.size() >= options_.partial_envelopes_max ||
                                  partial_bytes_ + e.total_len > options_.partial_bytes_max)) {
      evict_partial();
    }
    Partial p;
    p.total_len = e.total_len;
    p.since_ns = clock_.monotonic_ns();
    p.bytes.resize(e.total_len);
    partial_bytes_ += e.total_len;
    it = partials_.emplace(seq, std::move(p)).first;
  }
  Partial& p = it->second;
  std::memcpy(p.bytes.data() + e.offset, e.bytes.data(), e.bytes.size());
  p.received += static_cast<std::uint32_t>(e.bytes.size());
  p.flash = p.flash || (e.flags & entry_flag_flash) != 0;
  if (p.received < p.total_len) return;
  bump(counters_.envelopes_delivered);
  bump(counters_.envelope_bytes_delivered, p.total_len);
  handler_.on_envelope({seq, p.flash, p.bytes});
  partial_bytes_ -= p.total_len;
  partials_.erase(it);
}

bool Receiver::reported(std::uint64_t seq) const {
  return std::find(reported_ring_.begin(), reported_ring_.end(), seq) != reported_ring_.end();
}

void Receiver::remember_reported(std::uint64_t seq) {
  if (reported(seq)) return;
  if (reported_ring_.size() < limits::reported_boundaries_max) {
    reported_ring_.push_back(seq);
  } else {
    reported_ring_[reported_next_] = seq;
    reported_next_ = (reported_next_ + 1) % reported_ring_.size();
  }
}

void Receiver::give_up(std::uint64_t block, Slot& slot, LossReason reason) {
  CG_ASSERT(!slot.done);
  report(block, slot.range_known, slot.first_seq, slot.first_seq + slot.count, reason);
  slot.done = true;
  release(slot);
}

void Receiver::report(std::uint64_t block, bool known, std::uint64_t first, std::uint64_t end,
                      LossReason reason) {
  if (block != 0) bump(counters_.blocks_lost);
  if (!known) {
    bump(counters_.blocks_lost_range_unknown);
    handler_.on_loss({block, false, 0, 0, reason});
    return;
  }
  // Segments already held for these envelopes can never complete.
  for (auto it = partials_.lower_bound(first); it != partials_.end() && it->first < end;) {
    partial_bytes_ -= it->second.total_len;
    it = partials_.erase(it);
  }
  // An envelope split across two blocks is at the boundary of both: report it once.
  if (first < end && reported(first)) ++first;
  if (first < end && reported(end - 1)) --end;
  if (first < end) {
    remember_reported(first);
    remember_reported(end - 1);
  }
  const auto count = static_cast<std::uint32_t>(end - first);
  bump(counters_.envelopes_lost, count);
  handler_.on_loss({block, true, first, count, reason});
}

void Receiver::advance_floor() {
  while (!slots_.empty() && slots_.begin()->first == floor_ + 1 && slots_.begin()->second.done) {
    slots_.erase(slots_.begin());
    ++floor_;
  }
}

void Receiver::tick() {
  const std::int64_t now = clock_.monotonic_ns();
  for (auto& [block, slot] : slots_) {
    if (!slot.done && now - slot.since_ns >= options_.block_timeout_ns) {
      give_up(block, slot, LossReason::timeout);
    }
  }
  advance_floor();
  for (auto it = partials_.begin(); it != partials_.end();) {
    if (now - it->second.since_ns < 2 * options_.block_timeout_ns) {
      ++it;
      continue;
    }
    const std::uint64_t seq = it->first;
    ++it;  // report() erases the partial
    report(0, true, seq, seq + 1, LossReason::incomplete);
  }
}

void Receiver::on_heartbeat(const Frame& frame) {
  auto hb = parse_heartbeat(frame);
  if (!hb.ok()) return bump(counters_.frames_malformed);
  bump(counters_.heartbeats_received);
  if (hb->newest_block == 0) return;
  joined(hb->newest_block);
  track_through(hb->newest_block);  // tail loss: blocks up to the newest are now expected
  std::uint64_t b = hb->newest_block + 1 - hb->history.size();
  for (const BlockRange& r : hb->history) {
    auto it = b > floor_ ? slots_.find(b) : slots_.end();
    if (it != slots_.end() && !it->second.done && it->second.fragments.empty()) {
      it->second.range_known = true;
      it->second.first_seq = r.first_seq;
      it->second.count = r.count;
    }
    ++b;
  }
}

void Receiver::on_control(const Frame& frame) {
  const std::uint64_t id = frame.header.block;
  const bool old = control_id_max_ >= limits::control_ids_remembered &&
                   id <= control_id_max_ - limits::control_ids_remembered;
  if (old || std::find(control_ids_.begin(), control_ids_.end(), id) != control_ids_.end()) {
    return bump(counters_.control_repeats_ignored);
  }
  control_ids_.push_back(id);
  if (control_ids_.size() > limits::control_ids_remembered) control_ids_.pop_front();
  control_id_max_ = std::max(control_id_max_, id);
  bump(counters_.control_records_delivered);
  handler_.on_control(id, frame.payload);
}

}  // namespace cg::link
