// gateway/roles/gateway: the gateway role's tuning — how often it does what, and how hard it
// repeats what may be lost — each with its reason. Its maxima close the
// file. Constants only; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gateway/common/clock.h"

namespace cg::node::gateway_tuning {

// Stores the on-the-wire marks, repeats announcements, prunes: often enough that a crash
// re-sends little, rarely enough to cost nothing beside the pipeline.
inline constexpr std::int64_t housekeeping_every_ns = 200 * ns_per_ms;
// The current epoch's announcement again: a relay or receiver restarted meanwhile gets its key
// within this long.
inline constexpr std::int64_t reannounce_every_ns = 2 * ns_per_s;
// The approved bundle to the relay again (besides at once after every change): a relay that
// lost it (restarted with an empty store) learns it again within this long.
inline constexpr std::int64_t bundle_resend_every_ns = 30 * ns_per_s;
// A signed stream head per destination: a receiver learns of envelopes lost at the tail.
inline constexpr std::int64_t stream_head_every_ns = 1 * ns_per_s;
// Control records are repeated, since nothing comes back on a link: a new epoch's
// announcement (every envelope of the epoch needs it) most...
inline constexpr std::uint32_t new_epoch_repeats = 20;
// ...its periodic repetition, which comes again in 2 s anyway...
inline constexpr std::uint32_t reannounce_repeats = 2;
// ...stream heads, bundle chunks and the announcement before a re-sent envelope.
inline constexpr std::uint32_t control_repeats = 3;
// Pauses of the pipeline thread: idle (nothing to judge, nothing to re-send), after a failed
// pass (the store or link may be recovering), before retrying the re-send after a restart.
inline constexpr std::int64_t idle_sleep_ms = 2;
inline constexpr std::int64_t error_sleep_ms = 100;
inline constexpr std::int64_t restart_retry_ms = 500;
// Back-pressure from the paced link: how long to wait before offering again.
inline constexpr std::int64_t control_full_wait_ms = 1;
inline constexpr std::int64_t link_full_wait_us = 200;
// At stop, how long the link may take to drain what was submitted (500 × 10 ms).
inline constexpr int drain_polls = 500;
inline constexpr std::int64_t drain_poll_ms = 10;

// --- Maxima: bounds on what this role holds, or does in one pass ---------------------------
// TODO(cleanup): these belong in gateway/common/limits.h, section "Roles" (STYLE habit 5: every
// limit in one place); every module includes limits.h, so moving them is its own change, built
// and tested on its own (issue 16).
// Consumed inbox entries and sent envelopes pruned per housekeeping pass, so that
// pruning a long backlog never stalls the pipeline.
inline constexpr std::size_t prune_per_pass_max = 4096;
// Reviewers' signed decisions applied per pipeline pass: they share its one transaction with
// the items judged.
inline constexpr std::size_t review_requests_per_pass_max = 16;
// Envelopes re-sent for gaps per pipeline turn: first sends keep flowing between turns.
inline constexpr std::size_t resends_per_turn_max = 256;
// Re-sends take at most this much of the link's 4 MiB staging: a re-send never waits behind
// seconds of backlog (the receiver would ask again meanwhile).
inline constexpr std::uint64_t resend_backlog_bytes_max = 1u << 20;

}  // namespace cg::node::gateway_tuning
