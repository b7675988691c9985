// gateway/node: the keys of the three roles' own durable tables, written in one place so that
// each layout exists once (schemas/FORMATS.md, "Role tables", gives every table's key and
// value). Keys sort bytewise, so every number in a key is big-endian (store::be64) and a name
// is closed by a 0 byte: the entries of one name iterate together, in numeric order.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cg::node {

// name ‖ 0x00 ‖ be64(number): the layout of every table keyed by (a node or party, a number).
std::vector<std::uint8_t> name_number_key(std::string_view name, std::uint64_t number);

// Tables epochs_out (gateway: destination party) and epochs (receiver: origin gateway):
// party-or-origin ‖ 0x00 ‖ be64(epoch) → the signed epoch announcement.
inline std::vector<std::uint8_t> epoch_key_of(std::string_view party, std::uint64_t epoch) {
  return name_number_key(party, epoch);
}
// Table bundles_seen (relay): party ‖ 0x00 ‖ be64(bundle version) → bundle hash.
inline std::vector<std::uint8_t> bundle_seen_key_of(std::string_view party, std::uint64_t version) {
  return name_number_key(party, version);
}
// Table heads (receiver): relay ‖ 0x00 ‖ be64(serial) → the published head record.
inline std::vector<std::uint8_t> head_key_of(std::string_view relay, std::uint64_t serial) {
  return name_number_key(relay, serial);
}
// Table marks (gateway): "wire/" ‖ party → be64(seq): sent envelopes surely on the wire.
std::vector<std::uint8_t> mark_key_of(std::string_view party);
// Table logged (relay): origin ‖ 0x00 ‖ destination ‖ 0x00 ‖ be32(stream) ‖ be64(seq)
// → be64(log index) ‖ leaf hash.
std::vector<std::uint8_t> logged_key_of(std::string_view origin, std::string_view destination,
                                        std::uint32_t stream, std::uint64_t seq);
// Table meta (relay): its keys are fixed texts (below); a view of their bytes.
std::span<const std::uint8_t> text_key_of(std::string_view text);
inline constexpr std::string_view meta_serial_reserved = "serial_reserved";
inline constexpr std::string_view meta_last_head = "last_head";
inline constexpr std::string_view meta_checkpoint = "checkpoint";

}  // namespace cg::node
