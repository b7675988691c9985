// Helpers shared by the envelope module's sources (envelope.cc, records.cc). Not part of the
// module's interface: other modules include envelope.h only.
#pragma once

#include <capnp/blob.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/envelope/envelope.h"

namespace cg::envelope::detail {

inline constexpr std::size_t small_bytes_max = 256;  // key ids, hashes, signatures, public keys

inline Bytes span_of(capnp::Data::Reader d) { return {d.begin(), d.size()}; }
inline capnp::Data::Reader data_of(Bytes b) { return {b.data(), b.size()}; }
inline std::vector<std::uint8_t> bytes_of(Bytes b) { return {b.begin(), b.end()}; }

// context || 0x00 || body: what every signature of the module covers.
inline std::vector<std::uint8_t> context_message(std::string_view context, Bytes body) {
  std::vector<std::uint8_t> m(context.begin(), context.end());
  m.push_back(0);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

inline Status check_small(capnp::Data::Reader d, const char* what, bool required = true) {
  if ((required && d.size() == 0) || d.size() > small_bytes_max) {
    return malformed(std::string("envelope: ") + what + ": size out of bounds");
  }
  return {};
}

inline bool known_suite(schema::Suite s) {
  return s == schema::Suite::MODERN || s == schema::Suite::MODERN_AES || s == schema::Suite::CNSA;
}

// A node of `role` in the trust root whose signing key has `key_id` and the deployment suite.
// Errors: unauthenticated, naming `what` and the node.
Result<schema::Node::Reader> signer_node(const trust::TrustRoot& root, std::string_view id,
                                         schema::Role role, Bytes key_id,
                                         const crypto::Suite& suite, const char* what);

}  // namespace cg::envelope::detail
