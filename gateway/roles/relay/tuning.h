// gateway/roles/relay: the relay role's tuning — how often it does what, how long it waits,
// how hard it repeats — each with its reason. Its maxima close the
// file. Constants only; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gateway/common/clock.h"

namespace cg::node::relay_tuning {

// Forgets what is surely on the outbound wire and stores the published heads: often enough
// that a crash forwards little twice.
inline constexpr std::int64_t housekeeping_every_ns = 200 * ns_per_ms;
// Envelopes naming a rules bundle the relay has not seen approved wait this long for it (its
// chunks may still be on the way); then they are refused.
inline constexpr std::int64_t bundle_wait_ns = 10 * ns_per_s;
// Tree head serials are reserved durably this many at a time (a restart skips the rest): one
// store write per 4096 heads.
inline constexpr std::uint64_t serial_block = 4096;
// Every this many serials, a published head becomes the checkpoint later heads also link to,
// so a receiver that lost heads can still prove consistency.
inline constexpr std::uint64_t checkpoint_every = 64;
// Forwarded control records are repeated, since nothing comes back: announcements (every
// envelope of the epoch needs one) more than stream heads (sent every second anyway).
inline constexpr std::uint32_t announcement_repeats = 10;
inline constexpr std::uint32_t stream_head_repeats = 3;
// One poll of an inbound link waits at most this long, so stop() is seen promptly; the same
// pause after a failed poll.
inline constexpr int poll_timeout_ms = 10;
// Back-pressure from a paced outbound link: how long to wait before offering again.
inline constexpr std::int64_t link_full_wait_us = 200;
// At stop, how long each outbound link may take to drain (500 × 10 ms).
inline constexpr int drain_polls = 500;
inline constexpr std::int64_t drain_poll_ms = 10;

// --- Maxima: bounds on what this role holds, or does in one pass ---------------------------
// TODO(cleanup): these belong in gateway/common/limits.h, section "Roles" (STYLE habit 5: every
// limit in one place); every module includes limits.h, so moving them is its own change, built
// and tested on its own (issue 16).
// Envelopes waiting for the rules bundle they name, per inbound link (each a whole
// envelope in memory).
inline constexpr std::size_t held_for_bundle_max = 20'000;
// Logged envelopes remembered per stream by seq (table `logged`), so one re-sent to fill a
// receiver's gap is recognised and forwarded again; older seqs are forgotten.
inline constexpr std::uint64_t logged_window_seqs = 1u << 16;
// Entries of `unsent` forgotten per housekeeping pass, so one pass stays short.
inline constexpr std::size_t forgotten_per_pass_max = 4096;

}  // namespace cg::node::relay_tuning
