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
  treeHeadSerial @8 :UInt64;     # the tree head's serial (see PublishedHead); signed with it
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
  serial @6 :UInt64;             # every head the relay signs has its own serial, never reused
}

struct HeadLink {
  # A consistency proof from an earlier published head to the one that carries this link.
  serial @0 :UInt64;             # the earlier head's serial
  treeSize @1 :UInt64;           # and its size; Rule: ≤ the carrying head's size
  proof @2 :List(Data);          # RFC 9162 PROOF(treeSize, D[0:carrying head's size])
}

struct PublishedHead {
  # Every tree head the relay signs goes, as one of these, to EVERY outbound link (so both
  # parties see the same sequence of serials), with consistency proofs from earlier heads.
  # Framed on the link as "CGTH" 0x01 0 0 0 || this message (schemas/FORMATS.md).
  head @0 :TreeHead;
  links @1 :List(HeadLink);      # Rule: ≤ 4 (the previous head, and a checkpoint)
}

struct SeqRange {
  first @0 :UInt64;
  last @1 :UInt64;               # inclusive; Rule: first ≥ 1, first ≤ last
}

struct StreamGaps {
  origin @0 :Text;               # the origin gateway whose stream has gaps
  destination @1 :Text;          # the reporter's party
  stream @2 :UInt32;
  ranges @3 :List(SeqRange);     # Rule: ≤ gap_ranges_max, sorted, not overlapping
}

struct ReceiverReport {
  # A receiver's signed report (item kind gapReport): the sequence ranges it could not
  # recover, and the latest tree head it verified, for the other party to compare with its own
  # (detecting a relay that shows the parties different histories). It travels as the body of
  # an item on the reporter's own party's outbound path; it carries no content.
  suite @0 :Suite;
  reporter @1 :Text;             # receiver node id
  keyId @2 :Data;                # its signing key id
  time @3 :Int64;
  gaps @4 :List(StreamGaps);     # Rule: ≤ gap_streams_max
  head @5 :TreeHead;             # latest verified (absent: none yet)
  signature @6 :Data;            # over "cellgate receiver report v1" 0 || canonical(this, signature empty)
}

struct StreamHead {
  # The origin's signed statement of the last seq it committed on (origin, destination,
  # stream), repeated on the link every second: a receiver that lost the newest envelopes of a
  # quiet stream still learns they exist. Framed as "CGSH" 0x01 0 0 0 || this message.
  suite @0 :Suite;
  origin @1 :Text;
  destination @2 :Text;
  stream @3 :UInt32;
  lastSeq @4 :UInt64;
  time @5 :Int64;
  keyId @6 :Data;
  signature @7 :Data;            # over "cellgate stream head v1" 0 || canonical(this, signature empty)
}
