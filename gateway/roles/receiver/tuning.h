// gateway/roles/receiver: the receiver role's tuning — how often it counts and reports, how
// long it waits for its party's gateway — each with its reason. Its maxima close the file.
// Constants only; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gateway/common/clock.h"

namespace cg::node::receiver_tuning {

// Missing sequence numbers are counted (and the gauge set) this often: what operators watch.
inline constexpr std::int64_t gaps_every_ns = 1 * ns_per_s;
// One poll of the link waits at most this long, so stop() is seen promptly; the same pause
// after a failed poll.
inline constexpr int poll_timeout_ms = 10;
// The reporter thread: how long it sleeps waiting for a report (and for stop()), the timeouts
// of connecting and sending to its party's gateway and of its acknowledgement, and the pause
// before reconnecting after a failure (the report stays queued).
inline constexpr std::int64_t reporter_wait_ms = 200;
inline constexpr int gateway_connect_timeout_ms = 5000;
inline constexpr int gateway_send_timeout_ms = 5000;
inline constexpr int gateway_ack_timeout_ms = 10'000;
inline constexpr std::int64_t reporter_retry_ms = 1000;

// --- Maxima: bounds on what this role holds, or does in one pass ---------------------------
// TODO(cleanup): these belong in gateway/common/limits.h, section "Roles" (STYLE habit 5: every
// limit in one place); every module includes limits.h, so moving them is its own change, built
// and tested on its own (issue 16).
// Envelopes held in memory for an epoch key that has not arrived yet.
inline constexpr std::size_t waiting_for_epoch_max = 100'000;
// Reports waiting to be submitted to the party's gateway (oldest dropped: a newer report
// supersedes it).
inline constexpr std::size_t reports_queued_max = 64;
// Published tree heads kept in the store (table `heads`) for `cellgate audit` and exchange.
inline constexpr std::uint64_t heads_kept_max = 65'536;
// The latest heads read back at start to continue the chain of heads.
inline constexpr std::size_t heads_restored_max = 1024;
// Missing ranges counted per origin each time gaps are counted.
inline constexpr std::size_t missing_ranges_max = 1024;

}  // namespace cg::node::receiver_tuning
