// Every maximum the one-way link enforces, each with its reason (STYLE.md habit 5).
// Options (SenderOptions, ReceiverOptions) may lower these; validate() refuses higher values.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gateway/common/limits.h"

namespace cg::link::limits {

// --- Datagrams ----------------------------------------------------------------------------
// 512 B keeps a heartbeat with some block history inside one datagram; 65507 B is the largest
// UDP payload over IPv4. Deployments use the path MTU (1472 B on Ethernet, 8972 B jumbo).
inline constexpr std::size_t datagram_bytes_min = 512;
inline constexpr std::size_t datagram_bytes_max = 65507;

// --- Blocks -------------------------------------------------------------------------------
// Reed–Solomon over GF(2^8): at most 255 fragments (data + parity) per block.
inline constexpr std::size_t fragments_per_block_max = 255;
// Parity fragments per block: 128 allows 1:1 redundancy of a 127-fragment block.
inline constexpr std::size_t parity_fragments_max = 128;

// --- Sender -------------------------------------------------------------------------------
// Blocks whose fragments are sent round-robin. 32 × m parity fragments absorbs bursts of
// hundreds of datagrams; more only adds latency and memory.
inline constexpr std::size_t interleave_depth_max = 32;
// Envelope bytes waiting to be packed. Must hold at least one envelope of the largest size.
inline constexpr std::size_t staging_bytes_max = 64u << 20;
inline constexpr std::size_t staged_envelopes_max = 1u << 20;
// Control records (epoch announcements, ...) being repeated, and their repetitions.
inline constexpr std::size_t control_records_max = 64;
inline constexpr std::uint32_t control_repeats_max = 1000;
// Heartbeats name the sequence ranges of this many recent blocks, so a receiver can report
// the exact range of a block of which it received no fragment at all.
inline constexpr std::size_t heartbeat_history_max = 64;

// --- Receiver -----------------------------------------------------------------------------
// Blocks tracked at once (decided or not) above the oldest undecided one. A sender further
// ahead than this forces the oldest blocks to be given up (reported lost).
inline constexpr std::size_t window_blocks_max = 1u << 16;
// Blocks holding fragment buffers at once: bounds reassembly memory to
// blocks_in_flight_max × 255 × datagram size in the worst case.
inline constexpr std::size_t blocks_in_flight_max = 4096;
// Envelopes spanning several blocks being put back together, and their total bytes.
inline constexpr std::size_t partial_envelopes_max = 64;
inline constexpr std::size_t partial_bytes_max = 64u << 20;
// Sequence numbers already reported lost at block boundaries, remembered so an envelope
// split across two lost blocks is reported once (and its late segments are discarded).
inline constexpr std::size_t reported_boundaries_max = 512;
// Control record ids remembered to deliver each record once despite its repetitions.
inline constexpr std::size_t control_ids_remembered = 256;
// Datagrams read by one recvmmsg / written by one sendmmsg.
inline constexpr std::size_t io_batch_max = 256;

// The largest envelope the link carries (same as the rest of the gateway).
inline constexpr std::size_t envelope_bytes_max = cg::limits::envelope_bytes_max;

}  // namespace cg::link::limits
