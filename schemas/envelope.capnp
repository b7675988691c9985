# Envelopes: a released item, sealed and signed, as it crosses the one-way links.
#
# Signed and hashed bytes are always the Cap'n Proto canonical form of the named struct
# (capnp::canonicalize), never whatever an encoder happened to produce.
@0xedfacfcebb489c21;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cg::schema");

using Item = import "item.capnp";

enum Suite {
  # A suite id names one fixed set of algorithms; suites are versioned, never negotiated.
  unspecified @0;  # rejected
  modern @1;       # Ed25519, X25519, XChaCha20-Poly1305, BLAKE2b-512, HKDF-SHA-512
  modernAes @2;    # as `modern` with AES-256-GCM as the AEAD (CPUs with AES-NI)
  cnsa @3;         # ECDSA P-384/SHA-384, ECDH P-384, AES-256-GCM, SHA-384, HKDF-SHA-384
}

struct EnvelopeHeader {
  # Everything the relay may see. It is the AEAD's associated data and is covered by the
  # origin's signature, so none of it can be altered without detection.
  formatVersion @0 :UInt16;      # Rule: == 1.
  suite @1 :Suite;
  origin @2 :Text;               # origin node id
  keyId @3 :Data;                # origin signing key id (hash of its public key)
  destination @4 :Text;          # destination party id
  stream @5 :UInt32;             # stream within (origin, destination)
  seq @6 :UInt64;                # per (origin, destination, stream); starts at 1, never repeats
  time @7 :Int64;                # sealing time, ns since the Unix epoch
  precedence @8 :Item.Precedence;
  kind @9 :Item.Kind;
  releaseLabel @10 :Item.Label;  # the banner of the item as released (after redaction)
  rulesVersion @11 :UInt64;      # version of the approved rules bundle that judged the item
  rulesHash @12 :Data;           # hash of that bundle's canonical body
  epoch @13 :UInt64;             # epoch of the key the item is sealed under
}

struct BatchProof {
  # The origin signed the Merkle root of a batch of envelope leaf hashes once; this envelope
  # carries its leaf's audit path (RFC 9162 hashing with leaf/node domain separation).
  batchId @0 :UInt64;
  leafIndex @1 :UInt32;
  treeSize @2 :UInt32;
  path @3 :List(Data);           # Rule: ≤ merkle_path_len_max hashes
  rootSignature @4 :Data;        # origin's signature over the batch root record
}

struct RelayCountersignature {
  # Added by the supervisor's relay after it verified and logged the envelope.
  relay @0 :Text;                # relay node id
  keyId @1 :Data;                # relay signing key id
  logIndex @2 :UInt64;           # position of the envelope's leaf in the transparency log
  treeSize @3 :UInt64;           # size of the signed tree head the proof is against
  rootHash @4 :Data;             # that tree head's root
  treeHeadSignature @5 :Data;    # relay signature over (treeSize, rootHash, time)
  treeHeadTime @6 :Int64;
  inclusionPath @7 :List(Data);  # RFC 9162 inclusion proof for logIndex in treeSize
}

struct Envelope {
  header @0 :EnvelopeHeader;
  ciphertext @1 :Data;           # AEAD(epoch key, nonce(epoch, seq), canonical Item, ad=header)
  auth :union {
    signature @2 :Data;          # origin signature over the canonical SignedPart (per item)
    batch @3 :BatchProof;        # or a batch proof
  }
  relay @4 :RelayCountersignature;  # absent until the relay countersigns
}

struct EpochAnnouncement {
  # Signed record announcing a new epoch key for (origin, destination, stream). Repeated on
  # the link so that a receiver that lost one still gets it.
  suite @0 :Suite;
  origin @1 :Text;
  destination @2 :Text;
  stream @3 :UInt32;
  epoch @4 :UInt64;
  ephemeralPublic @5 :Data;      # sender's ephemeral key-agreement public key
  recipientKeyId @6 :Data;       # which static key of the destination it was agreed with
  firstSeq @7 :UInt64;           # first seq sealed under this epoch
  time @8 :Int64;
  keyId @9 :Data;                # origin signing key id
  signature @10 :Data;           # over the canonical form of this struct with signature empty
}

struct TreeHead {
  # A relay's signed tree head (RFC 9162 §4.10).
  relay @0 :Text;
  treeSize @1 :UInt64;
  rootHash @2 :Data;
  time @3 :Int64;
  keyId @4 :Data;
  signature @5 :Data;            # over the canonical form of this struct with signature empty
}
