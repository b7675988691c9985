# Audit records: one for every decision and every rejection at every node.
@0x9804704fbd4911ab;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cg::schema");

enum AuditEvent {
  unspecified @0;
  accepted @1;        # gateway stored an item from a source
  rejectedInput @2;   # a source's or a link's input was refused (reason says why)
  released @3;
  redacted @4;        # released with transforms
  blocked @5;
  quarantined @6;
  quarantineReleased @7;
  quarantineRejected @8;
  relayed @9;         # relay verified, logged and countersigned an envelope
  relayDropped @10;   # relay's oversight policy or verification dropped an envelope
  delivered @11;      # receiver delivered to a consumer and got the ack
  duplicate @12;      # receiver dropped a replay or duplicate
  gap @13;            # a sequence range was lost
  bundleLoaded @14;
  bundleRefused @15;
  trustRootLoaded @16;
  trustRootRefused @17;
  equivocation @18;   # a receiver found the relay showing the parties different histories
  quarantineApproved @19;  # a reviewer's approval of a held item counted, below the threshold
}

struct AuditRecord {
  time @0 :Int64;
  node @1 :Text;
  event @2 :AuditEvent;
  itemId @3 :Data;
  origin @4 :Text;
  destination @5 :Text;
  stream @6 :UInt32;
  seq @7 :UInt64;
  rulesVersion @8 :UInt64;
  reason @9 :Text;    # short machine-readable reason ("malformed", "rule r12", ...)
  detail @10 :Text;   # the explanation a person reads (rule, portions, transforms, pattern)
  previousHash @11 :Data;  # hash of the previous record: the audit log is a hash chain
}
