// Pieces of MvccStore shared by its .cc files; not part of the public interface.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "etcd/kv.pb.h"
#include "kv/store.h"

namespace keel::kv {

// One revision under construction: the writes of one request (a put, a delete, a whole txn).
struct MvccStore::RevisionWriter {
  explicit RevisionWriter(int64_t current_rev) : rev(current_rev + 1) {}

  const int64_t rev;     // the revision the writes get
  int64_t next_sub = 0;  // sub-revision of the next write
  std::vector<mvccpb::Event> events;

  bool changed() const { return next_sub > 0; }
  // What a read inside the request sees as the current revision (etcd: beginRev, +1 once
  // the txn has written something).
  int64_t read_rev() const { return changed() ? rev : rev - 1; }
};

// A txn's branch decisions, made before any write: whether its compares held, and the same
// for each nested txn in the branch that runs, in op order.
struct MvccStore::TxnPlan {
  bool succeeded = false;
  std::vector<TxnPlan> nested;
};

// Where value bytes come from: committed data for readers, plus the open batch for the
// writer.
class MvccStore::ValueReader {
 public:
  explicit ValueReader(std::function<bool(Revision, mvccpb::KeyValue*)> read)
      : read_(std::move(read)) {}
  bool Read(Revision rev, mvccpb::KeyValue* kv) const { return read_(rev, kv); }

 private:
  std::function<bool(Revision, mvccpb::KeyValue*)> read_;
};

}  // namespace keel::kv
