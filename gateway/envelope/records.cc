// Records that cross the links beside envelopes: the relay's published tree heads and the
// origin's stream heads (envelope.h, "Records that cross the links beside envelopes").
#include <capnp/message.h>

#include <algorithm>
#include <cstring>

#include "gateway/common/limits.h"
#include "gateway/envelope/envelope.h"
#include "gateway/envelope/internal.h"

namespace cg::envelope {
using namespace detail;
namespace {

constexpr std::string_view stream_head_context = "cellgate stream head v1";
constexpr std::size_t prefix_bytes = 8;
constexpr std::uint8_t record_format = 1;
constexpr std::uint8_t head_magic[4] = {'C', 'G', 'T', 'H'};
constexpr std::uint8_t stream_magic[4] = {'C', 'G', 'S', 'H'};
// A published head: a few hashes, a signature and at most head_links_max proofs.
constexpr wire::DecodeLimits record_limits{64u << 10, (64u << 10) / 8 * 2};

std::vector<std::uint8_t> framed(const std::uint8_t (&magic)[4], std::vector<std::uint8_t> body) {
  std::vector<std::uint8_t> out(magic, magic + 4);
  out.push_back(record_format);
  out.insert(out.end(), 3, 0);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

bool has_prefix(Bytes record, const std::uint8_t (&magic)[4]) {
  return record.size() >= prefix_bytes && std::memcmp(record.data(), magic, 4) == 0;
}

Result<Bytes> unframe(Bytes record, const std::uint8_t (&magic)[4], const char* what) {
  if (!has_prefix(record, magic)) return malformed(std::string(what) + ": not framed as one");
  if (record[4] != record_format || record[5] != 0 || record[6] != 0 || record[7] != 0) {
    return malformed(std::string(what) + ": unknown format");
  }
  return record.subspan(prefix_bytes);
}

Status validate_proof(capnp::List<capnp::Data>::Reader proof) {
  if (proof.size() > limits::consistency_proof_len_max)
    return malformed("published head: consistency proof too long");
  for (auto h : proof) {
    if (h.size() == 0 || h.size() > crypto::hash_bytes_max)
      return malformed("published head: bad proof hash");
  }
  return {};
}

Status validate_tree_head(schema::TreeHead::Reader t) {
  if (!wire::is_clean_name(wire::view(t.getRelay()))) return malformed("tree head: bad relay name");
  if (t.getSerial() == 0) return malformed("tree head: serial 0");
  if (t.getTreeSize() == 0) return malformed("tree head: empty tree");
  CG_RETURN_IF_ERROR(check_small(t.getRootHash(), "tree head rootHash"));
  CG_RETURN_IF_ERROR(check_small(t.getKeyId(), "tree head keyId"));
  CG_RETURN_IF_ERROR(check_small(t.getSignature(), "tree head signature"));
  return {};
}

Status validate_published(schema::PublishedHead::Reader p) {
  if (!p.hasHead()) return malformed("published head: head missing");
  CG_RETURN_IF_ERROR(validate_tree_head(p.getHead()));
  if (p.getLinks().size() > limits::head_links_max)
    return malformed("published head: too many links");
  for (auto l : p.getLinks()) {
    if (l.getSerial() == 0 || l.getSerial() >= p.getHead().getSerial())
      return malformed("published head: link to a serial not before the head's");
    if (l.getTreeSize() == 0 || l.getTreeSize() > p.getHead().getTreeSize())
      return malformed("published head: link from a size above the head's");
    CG_RETURN_IF_ERROR(validate_proof(l.getProof()));
  }
  return {};
}

Status validate_stream_head(schema::StreamHead::Reader h) {
  if (!known_suite(h.getSuite())) return malformed("stream head: unknown suite");
  if (!wire::is_clean_name(wire::view(h.getOrigin())) ||
      !wire::is_clean_name(wire::view(h.getDestination()))) {
    return malformed("stream head: bad origin or destination");
  }
  if (h.getLastSeq() == 0) return malformed("stream head: last seq 0");
  CG_RETURN_IF_ERROR(check_small(h.getKeyId(), "stream head keyId"));
  CG_RETURN_IF_ERROR(check_small(h.getSignature(), "stream head signature"));
  return {};
}

std::vector<std::uint8_t> stream_head_message(schema::StreamHead::Reader h) {
  capnp::MallocMessageBuilder mb;
  mb.setRoot(h);
  auto b = mb.getRoot<schema::StreamHead>();
  if (b.hasSignature()) b.disownSignature();
  return context_message(stream_head_context, wire::canonical(b.asReader()).canonical_bytes());
}

}  // namespace

Result<std::vector<std::uint8_t>> published_head(const Signer& relay, const TreeHead& head,
                                                 std::span<const HeadLinkProof> links) {
  if (links.size() > limits::head_links_max) return malformed("published head: too many links");
  capnp::MallocMessageBuilder mb;
  auto p = mb.initRoot<schema::PublishedHead>();
  auto t = p.initHead();
  t.setRelay(relay.node);
  t.setTreeSize(head.tree_size);
  t.setRootHash(data_of(head.root_hash));
  t.setTime(head.time_ns);
  t.setKeyId(data_of(relay.key_id));
  t.setSignature(data_of(head.signature));
  t.setSerial(head.serial);
  auto out = p.initLinks(static_cast<unsigned>(links.size()));
  for (unsigned i = 0; i < links.size(); ++i) {
    out[i].setSerial(links[i].serial);
    out[i].setTreeSize(links[i].tree_size);
    auto proof = out[i].initProof(static_cast<unsigned>(links[i].proof.size()));
    for (unsigned j = 0; j < proof.size(); ++j) proof.set(j, data_of(links[i].proof[j]));
  }
  CG_RETURN_IF_ERROR(validate_published(p.asReader()));
  return framed(head_magic, wire::canonical_bytes_of(p.asReader(), /*framed=*/true));
}

bool is_published_head(Bytes record) { return has_prefix(record, head_magic); }

Status verify_node_signature(const trust::TrustRoot& root, std::string_view id, schema::Role role,
                             Bytes key_id, const crypto::Suite& suite, Bytes message,
                             Bytes signature, const char* what) {
  CG_ASSIGN_OR_RETURN(auto node, signer_node(root, id, role, key_id, suite, what));
  if (auto s = suite.verify(span_of(node.getSigningKey().getKey()), message, signature); !s.ok())
    return unauthenticated(std::string(what) + " " + std::string(id) +
                           ": signature does not verify");
  return {};
}

Status verify_tree_head(std::string_view relay, Bytes key_id, const TreeHead& head,
                        const trust::TrustRoot& root, const crypto::Suite& suite,
                        crypto::VerifiedSignatures* verified) {
  CG_ASSIGN_OR_RETURN(auto node,
                      signer_node(root, relay, schema::Role::RELAY, key_id, suite, "relay"));
  const auto msg =
      tree_head_message(relay, key_id, head.serial, head.tree_size, head.root_hash, head.time_ns);
  const auto key = span_of(node.getSigningKey().getKey());
  if (auto s = verified ? verified->verify(suite, key, msg, head.signature)
                        : suite.verify(key, msg, head.signature);
      !s.ok()) {
    return unauthenticated("relay " + std::string(relay) + ": tree head " +
                           std::to_string(head.serial) + " signature does not verify");
  }
  return {};
}

Result<VerifiedHead> verify_published_head(Bytes record, const trust::TrustRoot& root,
                                           const crypto::Suite& suite,
                                           crypto::VerifiedSignatures* verified) {
  CG_ASSIGN_OR_RETURN(const Bytes body, unframe(record, head_magic, "published head"));
  CG_ASSIGN_OR_RETURN(
      auto m, wire::decode_message<schema::PublishedHead>(body, record_limits, validate_published));
  const auto t = m.root().getHead();
  VerifiedHead v;
  v.relay = std::string(wire::view(t.getRelay()));
  v.key_id = bytes_of(span_of(t.getKeyId()));
  v.head = {t.getTreeSize(), bytes_of(span_of(t.getRootHash())), t.getTime(),
            bytes_of(span_of(t.getSignature())), t.getSerial()};
  CG_RETURN_IF_ERROR(
      verify_tree_head(v.relay, span_of(t.getKeyId()), v.head, root, suite, verified));
  for (auto l : m.root().getLinks()) {
    HeadLinkProof p{l.getSerial(), l.getTreeSize(), {}};
    for (auto h : l.getProof()) p.proof.emplace_back(h.begin(), h.end());
    v.links.push_back(std::move(p));
  }
  return v;
}

Result<std::vector<std::uint8_t>> stream_head(const Signer& origin, std::string_view destination,
                                              std::uint32_t stream, std::uint64_t last_seq,
                                              std::int64_t time_ns) {
  capnp::MallocMessageBuilder mb;
  auto h = mb.initRoot<schema::StreamHead>();
  h.setSuite(static_cast<schema::Suite>(origin.suite->id()));
  h.setOrigin(origin.node);
  h.setDestination(capnp::Text::Reader(destination.data(), destination.size()));
  h.setStream(stream);
  h.setLastSeq(last_seq);
  h.setTime(time_ns);
  h.setKeyId(data_of(origin.key_id));
  std::vector<std::uint8_t> sig(origin.suite->signature_bytes());
  CG_RETURN_IF_ERROR(origin.key->sign(stream_head_message(h.asReader()), sig));
  h.setSignature(data_of(sig));
  CG_RETURN_IF_ERROR(validate_stream_head(h.asReader()));
  return framed(stream_magic, wire::canonical_bytes_of(h.asReader(), /*framed=*/true));
}

bool is_stream_head(Bytes record) { return has_prefix(record, stream_magic); }

Result<StreamHeadFields> verify_stream_head(Bytes record, const trust::TrustRoot& root,
                                            const crypto::Suite& suite) {
  CG_ASSIGN_OR_RETURN(const Bytes body, unframe(record, stream_magic, "stream head"));
  CG_ASSIGN_OR_RETURN(
      auto m, wire::decode_message<schema::StreamHead>(body, record_limits, validate_stream_head));
  const auto h = m.root();
  if (static_cast<std::uint8_t>(h.getSuite()) != static_cast<std::uint8_t>(suite.id()))
    return unauthenticated("stream head: suite is not the deployment's");
  const std::string origin(wire::view(h.getOrigin()));
  CG_ASSIGN_OR_RETURN(auto node, signer_node(root, origin, schema::Role::GATEWAY,
                                             span_of(h.getKeyId()), suite, "origin"));
  if (auto s = suite.verify(span_of(node.getSigningKey().getKey()), stream_head_message(h),
                            span_of(h.getSignature()));
      !s.ok()) {
    return unauthenticated("stream head from " + origin + ": signature does not verify");
  }
  return StreamHeadFields{origin, std::string(wire::view(h.getDestination())), h.getStream(),
                          h.getLastSeq(), h.getTime()};
}

}  // namespace cg::envelope
