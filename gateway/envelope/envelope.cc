#include "gateway/envelope/envelope.h"

#include <capnp/message.h>

#include "gateway/common/byte_reader.h"
#include "gateway/common/limits.h"
#include "gateway/envelope/internal.h"

namespace cg::envelope {
using namespace detail;
namespace {

constexpr std::string_view envelope_context = "cellgate envelope v1";
constexpr std::string_view tree_head_context = "cellgate tree head v1";
constexpr std::string_view announcement_context = "cellgate epoch announcement v1";

Status validate_header(schema::EnvelopeHeader::Reader h) {
  if (h.getFormatVersion() != format_version) return malformed("envelope: unknown format version");
  if (!known_suite(h.getSuite())) return malformed("envelope: unknown suite");
  if (!wire::is_clean_name(wire::view(h.getOrigin()))) return malformed("envelope: bad origin");
  CG_RETURN_IF_ERROR(check_small(h.getKeyId(), "keyId"));
  if (!wire::is_clean_name(wire::view(h.getDestination())))
    return malformed("envelope: bad destination");
  if (h.getSeq() == 0) return malformed("envelope: seq 0");
  if (h.getPrecedence() == schema::Precedence::UNSPECIFIED)
    return malformed("envelope: precedence missing");
  if (h.getKind() == schema::Kind::UNSPECIFIED) return malformed("envelope: kind missing");
  if (!h.hasReleaseLabel()) return malformed("envelope: release label missing");
  CG_RETURN_IF_ERROR(wire::validate_label(h.getReleaseLabel()));
  CG_RETURN_IF_ERROR(check_small(h.getRulesHash(), "rulesHash"));
  return {};
}

Status validate_path(capnp::List<capnp::Data>::Reader path) {
  if (path.size() > limits::merkle_path_len_max) return malformed("envelope: path too long");
  for (auto p : path) {
    if (p.size() == 0 || p.size() > crypto::hash_bytes_max)
      return malformed("envelope: bad path hash");
  }
  return {};
}

Status validate_envelope(schema::Envelope::Reader e) {
  if (!e.hasHeader()) return malformed("envelope: header missing");
  CG_RETURN_IF_ERROR(validate_header(e.getHeader()));
  if (e.getCiphertext().size() < crypto::aead_tag_bytes ||
      e.getCiphertext().size() > limits::item_bytes_max + crypto::aead_tag_bytes) {
    return malformed("envelope: ciphertext size out of bounds");
  }
  if (e.getAuth().which() != schema::Envelope::Auth::BATCH) {
    return malformed("envelope: format v1 carries a batch proof (a batch of one for single items)");
  }
  const auto b = e.getAuth().getBatch();
  if (b.getTreeSize() == 0 || b.getTreeSize() > limits::batch_items_max ||
      b.getLeafIndex() >= b.getTreeSize()) {
    return malformed("envelope: batch position out of range");
  }
  CG_RETURN_IF_ERROR(validate_path(b.getPath()));
  CG_RETURN_IF_ERROR(check_small(b.getRootSignature(), "rootSignature"));
  if (e.hasRelay()) {
    const auto r = e.getRelay();
    if (!wire::is_clean_name(wire::view(r.getRelay())))
      return malformed("envelope: bad relay name");
    CG_RETURN_IF_ERROR(check_small(r.getKeyId(), "relay keyId"));
    CG_RETURN_IF_ERROR(check_small(r.getRootHash(), "relay rootHash"));
    CG_RETURN_IF_ERROR(check_small(r.getTreeHeadSignature(), "relay treeHeadSignature"));
    if (r.getLogIndex() >= r.getTreeSize())
      return malformed("envelope: log index beyond tree size");
    if (r.getInclusionPath().size() > 64) return malformed("envelope: inclusion path too long");
    for (auto p : r.getInclusionPath()) {
      if (p.size() == 0 || p.size() > crypto::hash_bytes_max)
        return malformed("envelope: bad inclusion hash");
    }
  }
  return {};
}

}  // namespace

Result<schema::Node::Reader> detail::signer_node(const trust::TrustRoot& root, std::string_view id,
                                                 schema::Role role, Bytes key_id,
                                                 const crypto::Suite& suite, const char* what) {
  const auto node = root.node(id);
  if (!node)
    return unauthenticated(std::string(what) + " '" + std::string(id) +
                           "' is not in the trust root");
  if (node->getRole() != role) {
    return unauthenticated(std::string(what) + " '" + std::string(id) +
                           "' does not have that role in the trust root");
  }
  const auto key = node->getSigningKey();
  if (!crypto::ct_equal(span_of(key.getKeyId()), key_id)) {
    return unauthenticated(std::string(what) + " '" + std::string(id) +
                           "': key id is not its signing key's");
  }
  if (static_cast<std::uint8_t>(key.getSuite()) != static_cast<std::uint8_t>(suite.id())) {
    return unauthenticated(std::string(what) + " '" + std::string(id) + "': key of another suite");
  }
  return *node;
}

crypto::Hash digest_leaf(const crypto::Suite& suite, Bytes header, Bytes ciphertext) {
  std::vector<std::uint8_t> prefix(envelope_context.begin(), envelope_context.end());
  ByteWriter w(prefix);
  w.u8(0);
  w.u32(static_cast<std::uint32_t>(header.size()));
  const Bytes parts[] = {prefix, header, ciphertext};
  return crypto::leaf_hash_parts(crypto::hasher_of(suite), parts);
}

Result<Sealed> seal(const Signer& origin, const HeaderFields& f, crypto::EpochKey& epoch,
                    Bytes canonical_item) {
  CG_ASSIGN_OR_RETURN(auto item, wire::decode_canonical_item(canonical_item));
  return seal(origin, f, epoch, canonical_item, item.root().getBanner());
}

Result<Sealed> seal(const Signer& origin, const HeaderFields& f, crypto::EpochKey& epoch,
                    Bytes canonical_item, schema::Label::Reader release_label) {
  capnp::MallocMessageBuilder mb;
  auto h = mb.initRoot<schema::EnvelopeHeader>();
  h.setFormatVersion(format_version);
  h.setSuite(static_cast<schema::Suite>(origin.suite->id()));
  h.setOrigin(origin.node);
  h.setKeyId(data_of(origin.key_id));
  h.setDestination(f.destination);
  h.setStream(f.stream);
  h.setSeq(f.seq);
  h.setTime(f.time_ns);
  h.setPrecedence(f.precedence);
  h.setKind(f.kind);
  h.setReleaseLabel(release_label);
  h.setRulesVersion(f.rules_version);
  h.setRulesHash(data_of(f.rules_hash));
  h.setEpoch(epoch.epoch());
  CG_RETURN_IF_ERROR(validate_header(h.asReader()));
  Sealed out;
  out.header = wire::canonical_bytes_of(h.asReader(), /*framed=*/false);
  out.seq = f.seq;
  out.ciphertext.reserve(canonical_item.size() + crypto::aead_tag_bytes);
  CG_RETURN_IF_ERROR(epoch.seal(f.seq, out.header, canonical_item, out.ciphertext));
  out.leaf = digest_leaf(*origin.suite, out.header, out.ciphertext);
  return out;
}

Result<std::vector<std::vector<std::uint8_t>>> sign_batch(const Signer& origin,
                                                          std::uint64_t batch_id,
                                                          std::span<const Sealed> batch) {
  std::vector<crypto::Hash> leaves;
  leaves.reserve(batch.size());
  for (const auto& s : batch) leaves.push_back(s.leaf);
  CG_ASSIGN_OR_RETURN(auto signed_batch, crypto::sign_batch(*origin.suite, *origin.key, origin.node,
                                                            batch_id, leaves));
  std::vector<std::vector<std::uint8_t>> out;
  out.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    // seal() wrote this header canonically a moment ago, in this process: it is read without
    // the checks untrusted bytes get (words of an aligned, validated message).
    const auto& hb = batch[i].header;
    if (hb.size() % sizeof(capnp::word) != 0 || hb.empty())
      return malformed("sign_batch: a header that seal() did not make");
    const auto header = capnp::readMessageUnchecked<schema::EnvelopeHeader>(
        reinterpret_cast<const capnp::word*>(hb.data()));
    capnp::MallocMessageBuilder mb;
    auto e = mb.initRoot<schema::Envelope>();
    e.setHeader(header);
    e.setCiphertext(data_of(batch[i].ciphertext));
    auto b = e.getAuth().initBatch();
    b.setBatchId(batch_id);
    b.setLeafIndex(static_cast<std::uint32_t>(i));
    b.setTreeSize(static_cast<std::uint32_t>(batch.size()));
    auto path = b.initPath(static_cast<unsigned>(signed_batch.paths[i].size()));
    for (unsigned j = 0; j < path.size(); ++j) path.set(j, data_of(signed_batch.paths[i][j]));
    b.setRootSignature(data_of(signed_batch.signature));
    out.push_back(wire::canonical_bytes_of(e.asReader(), /*framed=*/true));
  }
  return out;
}

Result<wire::Message<schema::Envelope>> decode(Bytes bytes) {
  return wire::decode_message<schema::Envelope>(bytes, wire::envelope_limits, validate_envelope);
}

Result<Checked> verify_origin(Bytes bytes, const trust::TrustRoot& root, const crypto::Suite& suite,
                              crypto::VerifiedSignatures* verified) {
  CG_ASSIGN_OR_RETURN(auto e, decode(bytes));
  const auto r = e.root();
  const auto h = r.getHeader();
  if (static_cast<std::uint8_t>(h.getSuite()) != static_cast<std::uint8_t>(suite.id())) {
    return unauthenticated("envelope: suite is not the deployment's");
  }
  const std::string origin(wire::view(h.getOrigin()));
  CG_ASSIGN_OR_RETURN(auto node, signer_node(root, origin, schema::Role::GATEWAY,
                                             span_of(h.getKeyId()), suite, "origin"));
  const auto header = wire::canonical(h);
  auto leaf = digest_leaf(suite, header.canonical_bytes(), span_of(r.getCiphertext()));
  const auto b = r.getAuth().getBatch();
  std::vector<crypto::Hash> path;
  for (auto p : b.getPath()) path.emplace_back(p.begin(), p.end());
  if (auto s = crypto::verify_batch_item(suite, span_of(node.getSigningKey().getKey()), origin,
                                         b.getBatchId(), leaf, b.getLeafIndex(), b.getTreeSize(),
                                         path, span_of(b.getRootSignature()), verified);
      !s.ok()) {
    return unauthenticated("envelope from " + origin + " seq " + std::to_string(h.getSeq()) + ": " +
                           s.reason());
  }
  return Checked{std::move(e), std::move(leaf), std::string(wire::view(node.getParty()))};
}

std::vector<std::uint8_t> tree_head_message(std::string_view relay, Bytes key_id,
                                            std::uint64_t serial, std::uint64_t tree_size,
                                            Bytes root_hash, std::int64_t time_ns) {
  capnp::MallocMessageBuilder mb;
  auto t = mb.initRoot<schema::TreeHead>();
  t.setRelay(capnp::Text::Reader(relay.data(), relay.size()));
  t.setTreeSize(tree_size);
  t.setRootHash(data_of(root_hash));
  t.setTime(time_ns);
  t.setKeyId(data_of(key_id));
  t.setSerial(serial);
  return context_message(tree_head_context, wire::canonical(t.asReader()).canonical_bytes());
}

Result<TreeHead> sign_tree_head(const Signer& relay, std::uint64_t serial, std::uint64_t tree_size,
                                Bytes root_hash, std::int64_t time_ns) {
  TreeHead t{tree_size, bytes_of(root_hash), time_ns,
             std::vector<std::uint8_t>(relay.suite->signature_bytes()), serial};
  CG_RETURN_IF_ERROR(relay.key->sign(
      tree_head_message(relay.node, relay.key_id, serial, tree_size, root_hash, time_ns),
      t.signature));
  return t;
}

Result<std::vector<std::uint8_t>> countersign(const Signer& relay,
                                              const wire::Message<schema::Envelope>& envelope,
                                              std::uint64_t log_index, const TreeHead& head,
                                              std::span<const crypto::Hash> inclusion_path) {
  if (log_index >= head.tree_size) return malformed("countersign: log index beyond the tree head");
  capnp::MallocMessageBuilder mb;
  mb.setRoot(envelope.root());
  auto e = mb.getRoot<schema::Envelope>();
  auto c = e.initRelay();
  c.setRelay(relay.node);
  c.setKeyId(data_of(relay.key_id));
  c.setLogIndex(log_index);
  c.setTreeSize(head.tree_size);
  c.setRootHash(data_of(head.root_hash));
  c.setTreeHeadSignature(data_of(head.signature));
  c.setTreeHeadTime(head.time_ns);
  c.setTreeHeadSerial(head.serial);
  auto path = c.initInclusionPath(static_cast<unsigned>(inclusion_path.size()));
  for (unsigned i = 0; i < path.size(); ++i) path.set(i, data_of(inclusion_path[i]));
  return wire::canonical_bytes_of(e.asReader(), /*framed=*/true);
}

Result<Accepted> verify_delivery(Bytes bytes, const trust::TrustRoot& root,
                                 const crypto::Suite& suite, crypto::VerifiedSignatures* verified) {
  CG_ASSIGN_OR_RETURN(auto checked, verify_origin(bytes, root, suite, verified));
  const auto e = checked.envelope.root();
  if (!e.hasRelay()) return unauthenticated("envelope: no relay countersignature");
  const auto c = e.getRelay();
  const std::string relay(wire::view(c.getRelay()));
  CG_ASSIGN_OR_RETURN(auto node, signer_node(root, relay, schema::Role::RELAY,
                                             span_of(c.getKeyId()), suite, "relay"));
  const auto msg =
      tree_head_message(relay, span_of(c.getKeyId()), c.getTreeHeadSerial(), c.getTreeSize(),
                        span_of(c.getRootHash()), c.getTreeHeadTime());
  const auto relay_key = span_of(node.getSigningKey().getKey());
  const auto head_signature = span_of(c.getTreeHeadSignature());
  if (auto s = verified ? verified->verify(suite, relay_key, msg, head_signature)
                        : suite.verify(relay_key, msg, head_signature);
      !s.ok()) {
    return unauthenticated("relay " + relay + ": tree head signature does not verify");
  }
  const auto h = crypto::hasher_of(suite);
  std::vector<crypto::Hash> path;
  for (auto p : c.getInclusionPath()) path.emplace_back(p.begin(), p.end());
  // The relay's log holds the digest leaf as its leaf data.
  const auto log_leaf = crypto::leaf_hash(h, checked.leaf);
  if (!crypto::verify_inclusion(h, log_leaf, c.getLogIndex(), c.getTreeSize(), path,
                                span_of(c.getRootHash()))) {
    return unauthenticated("relay " + relay + ": inclusion proof for log index " +
                           std::to_string(c.getLogIndex()) + " does not verify");
  }
  const auto index = c.getLogIndex();
  TreeHead head{c.getTreeSize(), bytes_of(span_of(c.getRootHash())), c.getTreeHeadTime(),
                bytes_of(head_signature), c.getTreeHeadSerial()};
  return Accepted{std::move(checked.envelope),
                  std::move(checked.leaf),
                  std::move(checked.origin_party),
                  index,
                  relay,
                  std::move(head)};
}

Result<wire::Message<schema::Item>> open(const Accepted& accepted, const crypto::EpochKey& epoch) {
  const auto e = accepted.envelope.root();
  const auto h = e.getHeader();
  if (h.getEpoch() != epoch.epoch()) {
    return rejected("envelope seq " + std::to_string(h.getSeq()) + " is sealed under epoch " +
                    std::to_string(h.getEpoch()) + ", not " + std::to_string(epoch.epoch()));
  }
  const auto header = wire::canonical(h);
  std::vector<std::uint8_t> plain;
  CG_RETURN_IF_ERROR(
      epoch.open(h.getSeq(), header.canonical_bytes(), span_of(e.getCiphertext()), plain));
  return wire::decode_canonical_item(plain);
}

// --- Announcements -------------------------------------------------------------------------

namespace {
Status validate_announcement(schema::EpochAnnouncement::Reader a) {
  if (!known_suite(a.getSuite())) return malformed("announcement: unknown suite");
  if (!wire::is_clean_name(wire::view(a.getOrigin())) ||
      !wire::is_clean_name(wire::view(a.getDestination()))) {
    return malformed("announcement: bad origin or destination");
  }
  if (a.getFirstSeq() == 0) return malformed("announcement: first seq 0");
  CG_RETURN_IF_ERROR(check_small(a.getEphemeralPublic(), "ephemeralPublic"));
  CG_RETURN_IF_ERROR(check_small(a.getRecipientKeyId(), "recipientKeyId"));
  CG_RETURN_IF_ERROR(check_small(a.getKeyId(), "keyId"));
  CG_RETURN_IF_ERROR(check_small(a.getSignature(), "signature"));
  return {};
}

std::vector<std::uint8_t> announcement_message(schema::EpochAnnouncement::Reader a) {
  capnp::MallocMessageBuilder mb;
  mb.setRoot(a);
  auto b = mb.getRoot<schema::EpochAnnouncement>();
  if (b.hasSignature()) b.disownSignature();
  return context_message(announcement_context, wire::canonical(b.asReader()).canonical_bytes());
}
}  // namespace

Result<StartedEpoch> start_epoch(const Signer& origin, std::string_view destination,
                                 std::uint32_t stream, std::uint64_t epoch, std::uint64_t first_seq,
                                 Bytes recipient_public, const crypto::Secret* psk,
                                 std::int64_t now_ns) {
  crypto::EpochContext ctx;
  ctx.suite = origin.suite->id();
  ctx.origin = origin.node;
  ctx.destination = destination;
  ctx.stream = stream;
  ctx.epoch = epoch;
  CG_ASSIGN_OR_RETURN(auto started, crypto::start_epoch(*origin.suite, recipient_public, psk, ctx));
  capnp::MallocMessageBuilder mb;
  auto a = mb.initRoot<schema::EpochAnnouncement>();
  a.setSuite(static_cast<schema::Suite>(origin.suite->id()));
  a.setOrigin(origin.node);
  a.setDestination(capnp::Text::Reader(destination.data(), destination.size()));
  a.setStream(stream);
  a.setEpoch(epoch);
  a.setEphemeralPublic(data_of(started.ephemeral_public));
  const auto rid = crypto::key_id(origin.suite->id(), recipient_public);
  a.setRecipientKeyId(data_of(rid));
  a.setFirstSeq(first_seq);
  a.setTime(now_ns);
  a.setKeyId(data_of(origin.key_id));
  std::vector<std::uint8_t> sig(origin.suite->signature_bytes());
  CG_RETURN_IF_ERROR(origin.key->sign(announcement_message(a.asReader()), sig));
  a.setSignature(data_of(sig));
  return StartedEpoch{
      wire::to_flat_bytes(wire::canonical(a.asReader())),
      crypto::EpochKey(*origin.suite, epoch, first_seq, std::move(started.key), now_ns)};
}

Result<Announcement> verify_announcement(Bytes bytes, const trust::TrustRoot& root,
                                         const crypto::Suite& suite) {
  CG_ASSIGN_OR_RETURN(auto m, wire::decode_message<schema::EpochAnnouncement>(
                                  bytes, wire::envelope_limits, validate_announcement));
  const auto a = m.root();
  if (static_cast<std::uint8_t>(a.getSuite()) != static_cast<std::uint8_t>(suite.id())) {
    return unauthenticated("announcement: suite is not the deployment's");
  }
  const std::string origin(wire::view(a.getOrigin()));
  CG_ASSIGN_OR_RETURN(auto node, signer_node(root, origin, schema::Role::GATEWAY,
                                             span_of(a.getKeyId()), suite, "origin"));
  if (auto s = suite.verify(span_of(node.getSigningKey().getKey()), announcement_message(a),
                            span_of(a.getSignature()));
      !s.ok()) {
    return unauthenticated("announcement from " + origin + ": signature does not verify");
  }
  return Announcement{origin,
                      std::string(wire::view(a.getDestination())),
                      a.getStream(),
                      a.getEpoch(),
                      a.getFirstSeq(),
                      a.getTime(),
                      bytes_of(span_of(a.getEphemeralPublic())),
                      bytes_of(span_of(a.getRecipientKeyId()))};
}

Result<crypto::EpochKey> accept_epoch(Bytes bytes, const trust::TrustRoot& root,
                                      const crypto::Suite& suite,
                                      const crypto::AgreementKey& recipient,
                                      const crypto::Secret* psk, Announcement* fields) {
  CG_ASSIGN_OR_RETURN(auto m, wire::decode_message<schema::EpochAnnouncement>(
                                  bytes, wire::envelope_limits, validate_announcement));
  const auto a = m.root();
  if (static_cast<std::uint8_t>(a.getSuite()) != static_cast<std::uint8_t>(suite.id())) {
    return unauthenticated("announcement: suite is not the deployment's");
  }
  const std::string origin(wire::view(a.getOrigin()));
  CG_ASSIGN_OR_RETURN(auto node, signer_node(root, origin, schema::Role::GATEWAY,
                                             span_of(a.getKeyId()), suite, "origin"));
  if (auto s = suite.verify(span_of(node.getSigningKey().getKey()), announcement_message(a),
                            span_of(a.getSignature()));
      !s.ok()) {
    return unauthenticated("announcement from " + origin + ": signature does not verify");
  }
  if (fields) {
    *fields = Announcement{origin,
                           std::string(wire::view(a.getDestination())),
                           a.getStream(),
                           a.getEpoch(),
                           a.getFirstSeq(),
                           a.getTime(),
                           bytes_of(span_of(a.getEphemeralPublic())),
                           bytes_of(span_of(a.getRecipientKeyId()))};
  }
  const auto mine = crypto::key_id(suite.id(), recipient.public_key());
  if (!crypto::ct_equal(mine, span_of(a.getRecipientKeyId()))) {
    return rejected("announcement from " + origin + " is for another recipient key");
  }
  crypto::EpochContext ctx;
  ctx.suite = suite.id();
  ctx.origin = origin;
  const std::string destination(wire::view(a.getDestination()));
  ctx.destination = destination;
  ctx.stream = a.getStream();
  ctx.epoch = a.getEpoch();
  ctx.ephemeral_public = span_of(a.getEphemeralPublic());
  ctx.recipient_public = recipient.public_key();
  CG_ASSIGN_OR_RETURN(auto key, crypto::accept_epoch(suite, recipient, psk, ctx));
  return crypto::EpochKey(suite, a.getEpoch(), a.getFirstSeq(), std::move(key), a.getTime());
}

}  // namespace cg::envelope
