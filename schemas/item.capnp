# Items: what a source system submits and what a receiver delivers.
#
# Validation rules that are not expressible in the schema (sizes, sortedness, dominance) are
# enforced by gateway/wire (validate_item) and listed next to each field as "Rule:".
@0xf27b6a0274e877bc;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cg::schema");

enum Kind {
  # What an item is. `unspecified` exists so a missing field is detectable: it is rejected.
  unspecified @0;
  intelligence @1;    # intelligence report or indicator (STIX objects map here by default)
  deconfliction @2;   # de-confliction notice (movement, airspace, area of operations)
  incident @3;        # incident report
  diplomatic @4;      # diplomatic message
  economic @5;        # economic proposal
  gapReport @6;       # a receiver's signed report of sequence ranges it could not recover
}

enum Precedence {
  # Military message precedence. FLASH bypasses bulk batching. `unspecified` is rejected.
  unspecified @0;
  routine @1;
  priority @2;
  immediate @3;
  flash @4;
}

enum Tlp {
  # FIRST Traffic Light Protocol 2.0, ordered from least to most restrictive.
  # `unmarked` means the label carries no TLP marking. RED never crosses.
  unmarked @0;
  clear @1;
  green @2;
  amber @3;
  amberStrict @4;
  red @5;
}

struct Label {
  # A security label after NATO STANAG 4774 / IC ISM. A label L1 dominates L2 when
  # L1.policyId = L2.policyId, L1.classification >= L2.classification,
  # L1.restrictive ⊇ L2.restrictive, L1.caveats ⊇ L2.caveats, L1.tlp >= L2.tlp, and
  # (L2.permissive empty, or L1.permissive non-empty and L1.permissive ⊆ L2.permissive).

  policyId @0 :Text;
  # Names the labelling policy whose ordered levels `classification` indexes.
  # Rule: 1..name_bytes_max bytes.

  classification @1 :UInt8;
  # Index into the policy's ordered classification levels; 0 is the lowest.
  # Rule: < classification_levels_max (the policy checks its own level count).

  restrictive @2 :List(Text);
  # Restrictive categories (compartments, SCI-like controls): a destination must hold all.
  # Rule: sorted ascending, unique, each 1..name_bytes_max bytes, ≤ categories_per_label_max.

  permissive @3 :List(Text);
  # Permissive categories (REL TO): a destination must be named in at least one. Empty means
  # the label carries no REL TO marking. Rule: as `restrictive`.

  caveats @4 :List(Text);
  # Handling caveats, upper case ("NOFORN", "ORCON", ...). NOFORN never crosses; ORCON goes to
  # manual review; others are for the policy to judge. Rule: as `restrictive`.

  tlp @5 :Tlp;
}

struct GeoPoint {
  # WGS 84, degrees × 10^7. Rule: |lat| ≤ 90°, |lon| ≤ 180°.
  latE7 @0 :Int32;
  lonE7 @1 :Int32;
}

struct Area {
  # Optional geographic area an item concerns.
  union {
    none @0 :Void;
    point @1 :GeoPoint;
    box :group {
      # Rule: south ≤ north; west ≤ east (boxes crossing the antimeridian are split by sources).
      southWest @2 :GeoPoint;
      northEast @3 :GeoPoint;
    }
  }
}

struct Portion {
  # One separately labelled part of an item (STANAG 4774 portion marking).
  label @0 :Label;
  # Rule: the item's banner dominates this label.

  contentType @1 :Text;
  # Media type, e.g. "text/plain", "application/stix+json". Text types are content-inspected.
  # Rule: 1..name_bytes_max bytes.

  body @2 :Data;
  # Rule: ≤ portion_body_bytes_max; the whole item ≤ item_bytes_max.

  required @3 :Bool;
  # When a required portion may not cross, the whole item is blocked rather than redacted.

  name @4 :Text;
  # Optional name of the portion (e.g. the STIX property a granular marking selects).
  # Rule: ≤ name_bytes_max bytes.
}

struct Attribute {
  # A free-form key/value the source attaches (e.g. "source.callsign"). Attributes cross with
  # the banner's label unless a transform drops them.
  name @0 :Text;   # Rule: 1..name_bytes_max bytes.
  value @1 :Text;  # Rule: ≤ attribute_value_bytes_max bytes.
}

struct Item {
  id @0 :Data;
  # Globally unique, chosen by the source. Rule: exactly item_id_bytes (16) bytes.

  source @1 :Text;
  # The source system's id, as named in the gateway's config. Rule: 1..name_bytes_max bytes.

  kind @2 :Kind;              # Rule: not `unspecified`.
  precedence @3 :Precedence;  # Rule: not `unspecified`.

  created @4 :Int64;
  # Nanoseconds since the Unix epoch (UTC). Rule: > 0.
  expires @5 :Int64;
  # Nanoseconds since the Unix epoch; 0 means no expiry. Rule: 0 or > created.

  banner @6 :Label;
  # The overall marking. Rule: dominates every portion's label.

  topics @7 :List(Text);
  # Rule: each 1..name_bytes_max bytes, ≤ topics_per_item_max.

  area @8 :Area;

  portions @9 :List(Portion);
  # Rule: 1..portions_per_item_max.

  attributes @10 :List(Attribute);
  # Rule: ≤ attributes_per_item_max.
}
