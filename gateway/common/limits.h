// Every maximum cellgate enforces, in one place, each with its reason (STYLE.md habit 5).
// Config files may lower these (validated at start); nothing may raise them past these values.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cg::limits {

// --- Items (what a source submits) -------------------------------------------------------
// An item is a message, not a file transfer: 1 MiB covers imagery thumbnails and long
// reports while keeping a block of envelopes and the decoder's worst case small.
inline constexpr std::size_t item_bytes_max = 1u << 20;
// Cap'n Proto traversal limit for one item, in 8-byte words: the item itself plus headroom
// for list/pointer overhead. Bounds the work a hostile message can cause (amplification).
inline constexpr std::uint64_t item_traversal_words_max = (item_bytes_max / 8) * 2;
// Nesting: Item → portions → label → lists is depth 4; 16 leaves room and stops recursion bombs.
inline constexpr int item_nesting_max = 16;
inline constexpr std::size_t item_id_bytes = 16;
inline constexpr std::size_t portions_per_item_max = 256;
inline constexpr std::size_t portion_body_bytes_max = item_bytes_max;
// The ingest socket's hard cap (ZMQ_MAXMSGSIZE). ZeroMQ drops the connection, without a word,
// of a peer that sends a message above it; everything up to it is read and, when above
// item_bytes_max, answered `tooLarge` (and freed at once, never batched). 4 × the item bound:
// a source that gets an item a few MiB wrong hears why, while what ZeroMQ may queue stays
// bounded (the socket's receive high-water mark × this, and only CURVE-authenticated sources
// can send at all); a larger cap would only let a broken source pin more memory.
inline constexpr std::size_t ingest_message_bytes_max = 4 * item_bytes_max;
inline constexpr std::size_t attributes_per_item_max = 256;
inline constexpr std::size_t topics_per_item_max = 64;
// Short identifiers (source, policy id, categories, topics, content types, attribute names).
inline constexpr std::size_t name_bytes_max = 128;
inline constexpr std::size_t attribute_value_bytes_max = 16u << 10;
inline constexpr std::size_t categories_per_label_max = 64;
// Classification is an index into a policy's ordered levels.
inline constexpr std::size_t classification_levels_max = 16;

// --- Envelopes and the link --------------------------------------------------------------
// Sealed item + header + proof; the item bound plus room for the header and a Merkle path.
inline constexpr std::size_t envelope_bytes_max = item_bytes_max + (64u << 10);
inline constexpr std::uint64_t envelope_traversal_words_max = (envelope_bytes_max / 8) * 2;
// Merkle audit paths: 2^32 leaves per batch/log is far beyond any batch or log we keep.
inline constexpr std::size_t merkle_path_len_max = 32;
// Batches of envelopes signed under one root.
inline constexpr std::size_t batch_items_max = 4096;

// --- Gap recovery and published tree heads (issue 10) ------------------------------------
// A receiver report names at most this many streams, each with at most this many ranges: one
// report stays a small item; a receiver with more gaps reports the oldest first.
inline constexpr std::size_t gap_streams_max = 16;
inline constexpr std::size_t gap_ranges_max = 64;
// Sequence numbers one report may ask for in all: the most one report can cost the origin.
inline constexpr std::uint64_t gap_report_seqs_max = 65'536;
// Consistency links per published tree head (the previous head and a checkpoint, with room).
inline constexpr std::size_t head_links_max = 4;
// RFC 9162 consistency proofs are at most about 2·log2(size) hashes; 64 covers 2^32 entries.
inline constexpr std::size_t consistency_proof_len_max = 64;

// --- Rules and trust ---------------------------------------------------------------------
// (The policy's own counts — rules, patterns, destinations, list entries — are in
// gateway/policy/limits.h, next to the parser that enforces them.)
inline constexpr std::size_t policy_bytes_max = 16u << 20;
inline constexpr std::size_t rules_bundle_bytes_max = policy_bytes_max + (64u << 10);
inline constexpr std::uint64_t rules_bundle_traversal_words_max = (rules_bundle_bytes_max / 8) * 2;
inline constexpr std::size_t signatures_per_bundle_max = 64;
inline constexpr std::size_t trust_root_bytes_max = 1u << 20;
inline constexpr std::size_t keys_per_trust_root_max = 1024;

// --- Audit --------------------------------------------------------------------------------
inline constexpr std::size_t audit_record_bytes_max = 64u << 10;

// --- Inputs at the edges -----------------------------------------------------------------
// A node config is a few hundred lines; 1 MiB refuses a wrong file (a log, an image) before
// the TOML parser spends time on it.
inline constexpr std::size_t config_bytes_max = 1u << 20;
// CURVE client keys per socket ([ingest] sources, [deliver] consumers): a cell has a handful.
inline constexpr std::size_t curve_peers_max = 1024;
// JSON nesting. An item in JSON is at most 4 deep (item, portions, portion, label lists): 16
// stops recursion bombs with room. A STIX bundle nests objects, extensions and their
// properties: 32.
inline constexpr std::size_t item_json_depth_max = 16;
inline constexpr std::size_t stix_json_depth_max = 32;
// The ack a gateway sends a source: an item id per submitted item and a short reason.
inline constexpr std::size_t ingest_ack_bytes_max = 64u << 10;
// What a consumer sends a receiver: an acknowledgement of one delivery (a few ids).
inline constexpr std::size_t consumer_message_bytes_max = 4096;
// The metrics endpoint's HTTP request: a GET line and a few headers.
inline constexpr std::size_t metrics_request_bytes_max = 8192;
// Filter ↔ release guard (schemas/guard.capnp): one request carries at most
// guard_releases_max releases, and the filter stops adding releases once it holds
// guard_request_bytes_max (an item and its redacted copy are each at most item_bytes_max, so
// one release always fits); the reply carries their envelopes and epoch announcements.
inline constexpr std::size_t guard_releases_max = 256;
inline constexpr std::size_t guard_request_bytes_max = 8 * item_bytes_max;
inline constexpr std::size_t guard_message_bytes_max =
    guard_request_bytes_max + guard_releases_max * (4u << 10) + (64u << 10);
inline constexpr std::uint64_t guard_traversal_words_max = (guard_message_bytes_max / 8) * 2;
// Releases handed to the guard and not yet answered, in the filter's store: above this the
// filter judges no new items (back-pressure to ingest) until the guard catches up.
inline constexpr std::size_t guard_handoff_max = 4096;

}  // namespace cg::limits
