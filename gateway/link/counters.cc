#include "gateway/link/link.h"

namespace cg::link {
std::vector<CounterInfo> counter_list(const SenderCounters* s, const ReceiverCounters* r) {
  std::vector<CounterInfo> out;
  auto add = [&out](std::string_view name, std::string_view help,
                    const std::atomic<std::uint64_t>& counter) {
    out.push_back({name, help, &counter});
  };
  if (s != nullptr) {
    add("envelopes_submitted", "Envelopes queued for sending", s->envelopes_submitted);
    add("envelope_bytes_submitted", "Envelope bytes queued", s->envelope_bytes_submitted);
    add("submits_overloaded", "Submits refused: staging full", s->submits_overloaded);
    add("blocks_sealed", "Blocks encoded", s->blocks_sealed);
    add("flash_blocks_sealed", "FLASH blocks encoded", s->flash_blocks_sealed);
    add("data_frames_sent", "Data fragments sent", s->data_frames_sent);
    add("parity_frames_sent", "Parity fragments sent", s->parity_frames_sent);
    add("heartbeats_sent", "Heartbeats sent", s->heartbeats_sent);
    add("control_frames_sent", "Control record repetitions sent", s->control_frames_sent);
    add("frames_sent", "Frames sent", s->frames_sent);
    add("bytes_sent", "UDP payload bytes sent", s->bytes_sent);
    add("send_errors", "Datagrams the kernel refused", s->send_errors);
  }
  if (r != nullptr) {
    add("datagrams_received", "Datagrams read", r->datagrams_received);
    add("bytes_received", "UDP payload bytes read", r->bytes_received);
    add("frames_truncated", "Datagrams shorter than a frame", r->frames_truncated);
    add("frames_oversized", "Datagrams longer than the configured size", r->frames_oversized);
    add("frames_bad_mac", "Frames failing the MAC (forged or corrupted)", r->frames_bad_mac);
    add("frames_malformed", "Authentic frames with a bad structure", r->frames_malformed);
    add("frames_wrong_link", "Frames for another link id", r->frames_wrong_link);
    add("frames_settings_mismatch", "Frames with other settings", r->frames_settings_mismatch);
    add("frames_stale_session", "Frames of an older sender session", r->frames_stale_session);
    add("frames_stale_block", "Frames of blocks already decided and forgotten",
        r->frames_stale_block);
    add("frames_duplicate", "Fragments received twice", r->frames_duplicate);
    add("frames_redundant", "Fragments of blocks already decided", r->frames_redundant);
    add("frames_inconsistent", "Fragments disagreeing with their block", r->frames_inconsistent);
    add("fragments_accepted", "Fragments kept for reassembly", r->fragments_accepted);
    add("heartbeats_received", "Heartbeats received", r->heartbeats_received);
    add("control_records_delivered", "Control records delivered", r->control_records_delivered);
    add("control_repeats_ignored", "Control record repetitions ignored",
        r->control_repeats_ignored);
    add("blocks_decoded", "Blocks decoded", r->blocks_decoded);
    add("blocks_recovered_fec", "Blocks that needed parity to decode", r->blocks_recovered_fec);
    add("blocks_malformed", "Decoded blocks whose entries did not parse", r->blocks_malformed);
    add("blocks_lost", "Blocks given up", r->blocks_lost);
    add("blocks_lost_range_unknown", "Blocks given up without a known range",
        r->blocks_lost_range_unknown);
    add("envelopes_delivered", "Envelopes delivered", r->envelopes_delivered);
    add("envelope_bytes_delivered", "Envelope bytes delivered", r->envelope_bytes_delivered);
    add("envelopes_lost", "Envelopes reported lost", r->envelopes_lost);
    add("segments_orphaned", "Segments of envelopes already reported lost", r->segments_orphaned);
    add("sessions_started", "Sender sessions seen", r->sessions_started);
  }
  return out;
}

}  // namespace cg::link
