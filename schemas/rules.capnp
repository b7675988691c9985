# Reviewer approval (after The Update Framework): trust roots and rules bundles.
@0xeb533b57761428c6;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cg::schema");

using Env = import "envelope.capnp";

struct PublicKey {
  suite @0 :Env.Suite;
  keyId @1 :Data;                # hash of `key`
  key @2 :Data;                  # raw public key bytes of the suite's signature scheme
  name @3 :Text;                 # who holds it ("reviewer il/alice", "root 2")
}

enum Role {
  unspecified @0;
  gateway @1;
  relay @2;
  receiver @3;
}

struct Node {
  id @0 :Text;
  party @1 :Text;
  role @2 :Role;
  signingKey @3 :PublicKey;
  agreementKey @4 :PublicKey;    # static key-agreement key (receivers, relay)
}

struct Party {
  id @0 :Text;
  reviewers @1 :List(PublicKey);
  reviewerThreshold @2 :UInt8;   # distinct reviewer signatures a rules bundle needs
  releaseThreshold @3 :UInt8 = 2; # distinct reviewers whose approvals release a held item
}

struct TrustRootBody {
  version @0 :UInt64;
  expires @1 :Int64;             # ns since the Unix epoch
  parties @2 :List(Party);
  nodes @3 :List(Node);
  rootKeys @4 :List(PublicKey);
  rootThreshold @5 :UInt8;
}

struct KeySignature {
  keyId @0 :Data;
  signature @1 :Data;            # over the canonical form of the signed body
}

struct TrustRoot {
  body @0 :TrustRootBody;
  signatures @1 :List(KeySignature);  # root keys; a new root needs old and new thresholds
}

struct RulesBundleBody {
  party @0 :Text;
  version @1 :UInt64;            # strictly above every version a node has loaded
  created @2 :Int64;
  expires @3 :Int64;
  previousHash @4 :Data;         # hash of the canonical body of the bundle this replaces
  policy @5 :Data;               # the canonical policy bytes (TOML text) reviewers approved
}

struct RulesBundle {
  body @0 :RulesBundleBody;
  signatures @1 :List(KeySignature);  # reviewers of `body.party`
}
