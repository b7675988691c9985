// crypto/fixed.h: the primitives whose algorithm is fixed by a format rather than chosen by the
// deployment's suite, so every module reaches libsodium through crypto/ only.
//
// - BLAKE2b (RFC 7693) for values that must be the same in every deployment: STIX-derived
//   item ids and marking-definition ids (a STIX object must map to the same item id at both
//   parties), the link settings fingerprint, and the link frame tag. The frame tag is keyed
//   with the link key and only filters datagrams before anything is decoded; what crosses is
//   signed and sealed under the suite (SECURITY.md), so a cnsa deployment's guarantees do not
//   rest on it. The audit chain and every signed hash follow the suite (Suite::hash).
// - Random bytes for identifiers (not keys: keys come from Suite and Secret).
// - Wiping a buffer that held a secret outside a Secret.
//
// Thread-safe; ensure_sodium() is called by each.
#pragma once

#include <cstdint>
#include <span>

#include "crypto/suite.h"

namespace cg::crypto {

// BLAKE2b of the concatenation of `parts`, `out.size()` bytes (16 to 64), keyed when `key` is
// not empty (16 to 64 bytes).
void blake2b(std::span<const Bytes> parts, std::span<std::uint8_t> out, Bytes key = {});

// Fills `out` from the operating system's CSPRNG.
void random_bytes(std::span<std::uint8_t> out);

// Overwrites `bytes` with zeros in a way the compiler does not remove.
void wipe(std::span<std::uint8_t> bytes);

}  // namespace cg::crypto
