// gateway/envelope: what crosses the links — sealing and batch-signing at the origin gateway,
// origin verification and countersigning at the relay, relay verification and opening at the
// receiver, and the signed epoch announcements that let a receiver derive epoch keys.
//
// Bytes that are signed or hashed (schemas/FORMATS.md "Envelope digests"):
//   header      = canonical(EnvelopeHeader); the AEAD's associated data
//   digest leaf = leaf_hash("cellgate envelope v1" 0x00 || u32 len(header) || header ||
//                           ciphertext)  — RFC 9162 leaf hash with the deployment suite's hash.
//                 The origin's batch tree and the relay's transparency log both hold this leaf,
//                 so the relay cannot alter a header or ciphertext without breaking both.
//   batch root  = crypto::batch_root_message(suite, origin, batch id, tree size, root), signed
//                 by the origin's signing key (crypto/merkle.h).
//   tree head   = "cellgate tree head v1" 0x00 || canonical(TreeHead with signature empty),
//                 signed by the relay.
//   announcement= "cellgate epoch announcement v1" 0x00 || canonical(EpochAnnouncement with
//                 signature empty), signed by the origin.
//
// Every decoder runs inside the wire decode boundary with explicit limits and refuses
// anything malformed with a specific reason; every verifier fails closed (unauthenticated).
//
// Thread-safety: pure functions; an Opener/Sealer's EpochKey belongs to one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/epoch.h"
#include "crypto/merkle.h"
#include "crypto/suite.h"
#include "gateway/common/status.h"
#include "gateway/trust/trust.h"
#include "gateway/wire/wire.h"

namespace cg::envelope {

using Bytes = std::span<const std::uint8_t>;

inline constexpr std::uint16_t format_version = 1;

// Who signs at the origin (gateway) or the relay.
struct Signer {
  std::string node;
  const crypto::Suite* suite = nullptr;
  const crypto::SigningKey* key = nullptr;
  std::vector<std::uint8_t> key_id;  // crypto::key_id of the key
};

// The visible header of one envelope, as the origin fills it.
struct HeaderFields {
  std::string destination;  // party
  std::uint32_t stream = 0;
  std::uint64_t seq = 0;
  std::int64_t time_ns = 0;
  schema::Precedence precedence = schema::Precedence::ROUTINE;
  schema::Kind kind = schema::Kind::UNSPECIFIED;
  std::uint64_t rules_version = 0;
  std::vector<std::uint8_t> rules_hash;
};

// One envelope sealed at the origin, waiting for its batch signature.
struct Sealed {
  std::vector<std::uint8_t> header;      // canonical EnvelopeHeader
  std::vector<std::uint8_t> ciphertext;  // AEAD(epoch key, nonce(epoch, seq), item, ad = header)
  crypto::Hash leaf;                     // digest leaf (see above)
  std::uint64_t seq = 0;
};

// The digest leaf of (header, ciphertext).
crypto::Hash digest_leaf(const crypto::Suite& suite, Bytes header, Bytes ciphertext);

// Seals one released item (canonical Item bytes) under `epoch`; the header's release label is
// the released item's banner. Errors: rejected (seq not above the epoch's last), malformed.
Result<Sealed> seal(const Signer& origin, const HeaderFields& fields, crypto::EpochKey& epoch,
                    Bytes canonical_item);
// As above for a caller that holds the released item decoded already (the gateway): its
// banner is the release label, and the bytes are not decoded again. `canonical_item` must be
// the canonical encoding of the item whose banner is `release_label`.
Result<Sealed> seal(const Signer& origin, const HeaderFields& fields, crypto::EpochKey& epoch,
                    Bytes canonical_item, schema::Label::Reader release_label);

// Signs one batch (1..limits::batch_items_max sealed envelopes, each made by seal(); a batch of one
// is a plain signature over its leaf) and returns each envelope's bytes (canonical, standard
// framing).
Result<std::vector<std::vector<std::uint8_t>>> sign_batch(const Signer& origin,
                                                          std::uint64_t batch_id,
                                                          std::span<const Sealed> batch);

// --- Relay: verify the origin, countersign -------------------------------------------------

struct Checked {
  wire::Message<schema::Envelope> envelope;
  crypto::Hash leaf;
  std::string origin_party;
};

// Decodes an envelope and checks its structure (every "Rule:" in schemas/envelope.capnp).
// Errors: malformed.
Result<wire::Message<schema::Envelope>> decode(Bytes bytes);

// Verifies the origin: the node is a gateway in the trust root, the key id is its signing
// key's, the suite is the deployment's, and the batch proof holds. Errors: unauthenticated.
// With `verified`, a batch signature already verified is not checked again.
Result<Checked> verify_origin(Bytes bytes, const trust::TrustRoot& root, const crypto::Suite& suite,
                              crypto::VerifiedSignatures* verified = nullptr);

struct TreeHead {
  std::uint64_t tree_size = 0;
  crypto::Hash root_hash;
  std::int64_t time_ns = 0;
  std::vector<std::uint8_t> signature;
  // Every head a relay signs has its own serial (1, 2, ...; gaps allowed, never reused), and
  // every head goes to every party (PublishedHead): two heads with one serial must be equal.
  std::uint64_t serial = 0;
};
// The relay signs a tree head of its transparency log.
Result<TreeHead> sign_tree_head(const Signer& relay, std::uint64_t serial, std::uint64_t tree_size,
                                Bytes root_hash, std::int64_t time_ns);
// What a tree head signature covers: "cellgate tree head v1" 0 || canonical(TreeHead, signature
// empty).
std::vector<std::uint8_t> tree_head_message(std::string_view relay, Bytes key_id,
                                            std::uint64_t serial, std::uint64_t tree_size,
                                            Bytes root_hash, std::int64_t time_ns);

// The envelope with the relay's countersignature: its log index and the inclusion proof of
// its leaf in the signed tree head. Returns the new envelope bytes.
Result<std::vector<std::uint8_t>> countersign(const Signer& relay,
                                              const wire::Message<schema::Envelope>& envelope,
                                              std::uint64_t log_index, const TreeHead& head,
                                              std::span<const crypto::Hash> inclusion_path);

// --- Receiver: verify the relay and the origin, open ---------------------------------------

struct Accepted {
  wire::Message<schema::Envelope> envelope;
  crypto::Hash leaf;
  std::string origin_party;
  std::uint64_t log_index = 0;
  std::string relay;  // the countersigning relay node
  TreeHead head;      // the signed tree head the inclusion was proven against
};
// Verifies the origin (as the relay does), then the relay's countersignature: a relay node of
// the trust root, its tree head signature, and the inclusion of the leaf at log_index.
// Errors: unauthenticated (the reason names which check failed), malformed.
// With `verified`, batch and tree head signatures already verified are not checked again.
Result<Accepted> verify_delivery(Bytes bytes, const trust::TrustRoot& root,
                                 const crypto::Suite& suite,
                                 crypto::VerifiedSignatures* verified = nullptr);

// Opens the item of an accepted envelope under its epoch key. Errors: unauthenticated,
// malformed (the plaintext is not a valid canonical item).
Result<wire::Message<schema::Item>> open(const Accepted& accepted, const crypto::EpochKey& epoch);

// --- Epoch announcements -------------------------------------------------------------------

struct Announcement {
  std::string origin, destination;
  std::uint32_t stream = 0;
  std::uint64_t epoch = 0;
  std::uint64_t first_seq = 0;
  std::int64_t time_ns = 0;
  std::vector<std::uint8_t> ephemeral_public;
  std::vector<std::uint8_t> recipient_key_id;
};

// Starts a new epoch towards `recipient_public` and returns the signed announcement (bytes in
// standard framing) and the sender's EpochKey.
struct StartedEpoch {
  std::vector<std::uint8_t> announcement;
  crypto::EpochKey key;
};
Result<StartedEpoch> start_epoch(const Signer& origin, std::string_view destination,
                                 std::uint32_t stream, std::uint64_t epoch, std::uint64_t first_seq,
                                 Bytes recipient_public, const crypto::Secret* psk,
                                 std::int64_t now_ns);

// Verifies an announcement's signature against the origin's key in the trust root (what the
// relay checks before forwarding one). Errors: malformed, unauthenticated.
Result<Announcement> verify_announcement(Bytes announcement, const trust::TrustRoot& root,
                                         const crypto::Suite& suite);

// Verifies an announcement's signature against the origin's key in the trust root and, when
// it is for `recipient`, derives the epoch key. Errors: malformed, unauthenticated, rejected
// (announced for another recipient key).
Result<crypto::EpochKey> accept_epoch(Bytes announcement, const trust::TrustRoot& root,
                                      const crypto::Suite& suite,
                                      const crypto::AgreementKey& recipient,
                                      const crypto::Secret* psk, Announcement* fields = nullptr);

// Verifies `signature` over `message` by node `id` of the trust root: it must have `role`, a
// signing key with `key_id`, of the deployment suite. Errors: unauthenticated, naming `what`.
Status verify_node_signature(const trust::TrustRoot& root, std::string_view id, schema::Role role,
                             Bytes key_id, const crypto::Suite& suite, Bytes message,
                             Bytes signature, const char* what);

// --- Records that cross the links beside envelopes (issue 10) -------------------------------
//
// Framed "CGTH" / "CGSH", then u8 format = 1 and 3 zero bytes, then the Cap'n Proto message in
// standard framing (schemas/FORMATS.md). A framed Cap'n Proto message starts with its segment
// count - 1, so neither prefix can be mistaken for an envelope or an announcement.

// A consistency proof from an earlier published head (serial, size) to the carrying head.
struct HeadLinkProof {
  std::uint64_t serial = 0;
  std::uint64_t tree_size = 0;
  std::vector<crypto::Hash> proof;
};

// A published head as the relay sends it on every outbound link (as a link envelope).
Result<std::vector<std::uint8_t>> published_head(const Signer& relay, const TreeHead& head,
                                                 std::span<const HeadLinkProof> links);
bool is_published_head(Bytes record);

struct VerifiedHead {
  std::string relay;
  std::vector<std::uint8_t> key_id;  // the relay's signing key id
  TreeHead head;
  std::vector<HeadLinkProof> links;  // NOT checked: the receiver checks them against its heads
};
// Decodes a published head and verifies its signature (a relay of the trust root). Errors:
// malformed (framing, structure, a link above the head), unauthenticated.
Result<VerifiedHead> verify_published_head(Bytes record, const trust::TrustRoot& root,
                                           const crypto::Suite& suite,
                                           crypto::VerifiedSignatures* verified = nullptr);
// Verifies a tree head's signature by `relay` (a relay of the trust root) — a head quoted in
// a receiver report, say. Errors: unauthenticated.
Status verify_tree_head(std::string_view relay, Bytes key_id, const TreeHead& head,
                        const trust::TrustRoot& root, const crypto::Suite& suite,
                        crypto::VerifiedSignatures* verified = nullptr);

// The origin's signed statement of the last seq it committed on (destination, stream): sent as
// a control record every second, forwarded by the relay, so that a receiver learns of
// envelopes it never saw at the tail of a stream.
struct StreamHeadFields {
  std::string origin, destination;
  std::uint32_t stream = 0;
  std::uint64_t last_seq = 0;
  std::int64_t time_ns = 0;
};
Result<std::vector<std::uint8_t>> stream_head(const Signer& origin, std::string_view destination,
                                              std::uint32_t stream, std::uint64_t last_seq,
                                              std::int64_t time_ns);
bool is_stream_head(Bytes record);
// Errors: malformed, unauthenticated (origin not a gateway of the trust root, bad signature).
Result<StreamHeadFields> verify_stream_head(Bytes record, const trust::TrustRoot& root,
                                            const crypto::Suite& suite);

}  // namespace cg::envelope
