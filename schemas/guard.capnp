# The filter ↔ release-guard protocol (issue 17, docs/DESIGN.md "The release guard").
#
# The filter (the gateway process: ingest, judge, redact, quarantine) holds no key the relay
# accepts. Every item it releases goes, with what the decision claims, to the guard process,
# which alone holds the gateway's batch-signing key: the guard checks the release on its own,
# then seals, signs and answers with the envelope. One GuardRequest and one GuardReply per
# ZeroMQ message (REQ/REP over CurveZMQ on loopback), in standard Cap'n Proto framing, each at
# most limits::guard_message_bytes_max. The filter also keeps every release it has not yet had
# answered as a GuardHandOff in its own store (table `handoff`), so a kill -9 of either process
# loses nothing: the filter asks again under the same hand-off id, and the guard answers a
# repeated id with the very answer it gave (it signs nothing twice).
@0xb3147ed6d7ab18bd;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cg::schema");

struct GuardApproval {
  keyId @0 :Data;       # a reviewer key of the filter's party in the trust root
  signature @1 :Data;   # over the quarantine release statement (gateway/quarantine)
}

# One release the filter asks the guard to check and sign.
struct GuardRelease {
  handoff @0 :UInt64;        # the filter's id for it (1, 2, 3, ...): a repeat gets the same answer
  destination @1 :Text;      # the policy destination id ("sy"); its party is the envelope's
  original @2 :Data;         # the canonical Item as ingested (for a hold: as held)
  released @3 :Data;         # the canonical Item to seal
  removed @4 :List(Bool);    # per portion of `original`: the filter removed it
  # A reviewer release: the hold id and the approvals the filter collected (at least the
  # party's release threshold). `released` must then equal `original`; the guard verifies the
  # approvals instead of the labels. 0: a release by the policy.
  hold @5 :UInt64;
  approvals @6 :List(GuardApproval);
}

struct GuardSeal {
  bundleHash @0 :Data;        # the approved rules bundle the filter judged by
  committedThrough @1 :UInt64; # the filter has stored the answers to every hand-off ≤ this
  releases @2 :List(GuardRelease);   # in hand-off order
}

struct GuardStreamHead {
  destination @0 :Text;   # a party with a receiver
  seq @1 :UInt64;         # the last seq the filter committed (at most the guard's last signed)
}

struct GuardRequest {
  union {
    bundle @0 :Data;              # a signed rules bundle: the guard verifies it itself
    seal @1 :GuardSeal;
    streamHead @2 :GuardStreamHead;
  }
}

struct GuardSigned {
  seq @0 :UInt64;
  envelope @1 :Data;        # sealed and signed (alone for FLASH, else in a batch)
  announcement @2 :Data;    # a new epoch's signed announcement, to send before it (or empty)
}

struct GuardAnswer {
  handoff @0 :UInt64;
  union {
    signed @1 :GuardSigned;
    refused @2 :Text;        # the guard's verdict: the filter holds the item with both
  }
}

struct GuardReply {
  union {
    refused @0 :Text;                 # the whole request (malformed, no usable bundle, ...)
    needBundle @1 :Void;              # send the bundle named by bundleHash first
    bundleVersion @2 :UInt64;         # the bundle offered is verified and in use
    answers @3 :List(GuardAnswer);    # one per release, in order
    streamHead @4 :Data;              # the signed stream head
  }
}

# The filter's durable record of a release not yet answered (its own store only).
struct GuardHandOff {
  release @0 :GuardRelease;
  event @1 :UInt16;      # the audit event to record once signed (released, redacted, ...)
  reason @2 :Text;       # the filter's verdict, for the audit record
  detail @3 :Text;
  fromReport @4 :Bool;   # this party's receiver's report (counted apart)
  byReviewer @5 :Bool;
  itemId @6 :Data;       # the original's id and destination party, for the audit record
  party @7 :Text;
}
