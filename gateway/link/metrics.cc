#include "gateway/metrics/metrics.h"

#include "gateway/link/link.h"

namespace cg::link {
namespace {

using Counter = std::atomic<std::uint64_t>;

void add(metrics::Registry& registry, const std::string& link_name, const std::string& name,
         const std::string& help, const Counter& counter) {
  registry.counter("cellgate_link_" + name + "_total", help, {{"link", link_name}},
                   [&counter] { return static_cast<double>(counter.load()); });
}

}  // namespace

void register_metrics(metrics::Registry& registry, const std::string& link_name,
                      const SenderCounters* s, const ReceiverCounters* r) {
  if (s != nullptr) {
    add(registry, link_name, "envelopes_submitted", "Envelopes queued for sending",
        s->envelopes_submitted);
    add(registry, link_name, "envelope_bytes_submitted", "Envelope bytes queued",
        s->envelope_bytes_submitted);
    add(registry, link_name, "submits_overloaded", "Submits refused: staging full",
        s->submits_overloaded);
    add(registry, link_name, "blocks_sealed", "Blocks encoded", s->blocks_sealed);
    add(registry, link_name, "flash_blocks_sealed", "FLASH blocks encoded", s->flash_blocks_sealed);
    add(registry, link_name, "data_frames_sent", "Data fragments sent", s->data_frames_sent);
    add(registry, link_name, "parity_frames_sent", "Parity fragments sent", s->parity_frames_sent);
    add(registry, link_name, "heartbeats_sent", "Heartbeats sent", s->heartbeats_sent);
    add(registry, link_name, "control_frames_sent", "Control record repetitions sent",
        s->control_frames_sent);
    add(registry, link_name, "frames_sent", "Frames sent", s->frames_sent);
    add(registry, link_name, "bytes_sent", "UDP payload bytes sent", s->bytes_sent);
    add(registry, link_name, "send_errors", "Datagrams the kernel refused", s->send_errors);
  }
  if (r != nullptr) {
    add(registry, link_name, "datagrams_received", "Datagrams read", r->datagrams_received);
    add(registry, link_name, "bytes_received", "UDP payload bytes read", r->bytes_received);
    add(registry, link_name, "frames_truncated", "Datagrams shorter than a frame",
        r->frames_truncated);
    add(registry, link_name, "frames_oversized", "Datagrams longer than the configured size",
        r->frames_oversized);
    add(registry, link_name, "frames_bad_mac", "Frames failing the MAC (forged or corrupted)",
        r->frames_bad_mac);
    add(registry, link_name, "frames_malformed", "Authentic frames with a bad structure",
        r->frames_malformed);
    add(registry, link_name, "frames_wrong_link", "Frames for another link id",
        r->frames_wrong_link);
    add(registry, link_name, "frames_settings_mismatch", "Frames with other settings",
        r->frames_settings_mismatch);
    add(registry, link_name, "frames_stale_session", "Frames of an older sender session",
        r->frames_stale_session);
    add(registry, link_name, "frames_stale_block", "Frames of blocks already decided and forgotten",
        r->frames_stale_block);
    add(registry, link_name, "frames_duplicate", "Fragments received twice", r->frames_duplicate);
    add(registry, link_name, "frames_redundant", "Fragments of blocks already decided",
        r->frames_redundant);
    add(registry, link_name, "frames_inconsistent", "Fragments disagreeing with their block",
        r->frames_inconsistent);
    add(registry, link_name, "fragments_accepted", "Fragments kept for reassembly",
        r->fragments_accepted);
    add(registry, link_name, "heartbeats_received", "Heartbeats received", r->heartbeats_received);
    add(registry, link_name, "control_records_delivered", "Control records delivered",
        r->control_records_delivered);
    add(registry, link_name, "control_repeats_ignored", "Control record repetitions ignored",
        r->control_repeats_ignored);
    add(registry, link_name, "blocks_decoded", "Blocks decoded", r->blocks_decoded);
    add(registry, link_name, "blocks_recovered_fec", "Blocks that needed parity to decode",
        r->blocks_recovered_fec);
    add(registry, link_name, "blocks_malformed", "Decoded blocks whose entries did not parse",
        r->blocks_malformed);
    add(registry, link_name, "blocks_lost", "Blocks given up", r->blocks_lost);
    add(registry, link_name, "blocks_lost_range_unknown", "Blocks given up without a known range",
        r->blocks_lost_range_unknown);
    add(registry, link_name, "envelopes_delivered", "Envelopes delivered", r->envelopes_delivered);
    add(registry, link_name, "envelope_bytes_delivered", "Envelope bytes delivered",
        r->envelope_bytes_delivered);
    add(registry, link_name, "envelopes_lost", "Envelopes reported lost", r->envelopes_lost);
    add(registry, link_name, "segments_orphaned", "Segments of envelopes already reported lost",
        r->segments_orphaned);
    add(registry, link_name, "sessions_started", "Sender sessions seen", r->sessions_started);
  }
}

void register_queue_metrics(metrics::Registry& registry, const std::string& link_name,
                            UdpSender& sender) {
  registry.gauge("cellgate_link_queued_envelopes",
                 "Envelopes submitted to the link sender and not yet cut into blocks",
                 {{"link", link_name}},
                 [&sender] { return static_cast<double>(sender.queued().envelopes); });
  registry.gauge("cellgate_link_queued_bytes",
                 "Envelope bytes submitted to the link sender and not yet cut into blocks",
                 {{"link", link_name}},
                 [&sender] { return static_cast<double>(sender.queued().bytes); });
}

}  // namespace cg::link
