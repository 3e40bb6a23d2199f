#include "base/etcd_errors.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace keel {
namespace {

TEST(EtcdErrors, KvErrorsCarryEtcdsCodeAndExactText) {
  EXPECT_EQ(ErrEmptyKey(),
            absl::InvalidArgumentError("etcdserver: key is not provided"));
  EXPECT_EQ(ErrKeyNotFound(), absl::InvalidArgumentError("etcdserver: key not found"));
  EXPECT_EQ(ErrValueProvided(), absl::InvalidArgumentError("etcdserver: value is provided"));
  EXPECT_EQ(ErrLeaseProvided(), absl::InvalidArgumentError("etcdserver: lease is provided"));
  EXPECT_EQ(ErrTooManyOps(),
            absl::InvalidArgumentError("etcdserver: too many operations in txn request"));
  EXPECT_EQ(ErrDuplicateKey(),
            absl::InvalidArgumentError("etcdserver: duplicate key given in txn request"));
  EXPECT_EQ(ErrCompacted(),
            absl::OutOfRangeError("etcdserver: mvcc: required revision has been compacted"));
  EXPECT_EQ(ErrFutureRev(),
            absl::OutOfRangeError("etcdserver: mvcc: required revision is a future revision"));
  EXPECT_EQ(ErrNoSpace(),
            absl::ResourceExhaustedError("etcdserver: mvcc: database space exceeded"));
  EXPECT_EQ(ErrLeaseNotFound(), absl::NotFoundError("etcdserver: requested lease not found"));
  EXPECT_EQ(ErrRequestTooLarge(), absl::InvalidArgumentError("etcdserver: request is too large"));
  EXPECT_EQ(ErrTooManyRequests(), absl::ResourceExhaustedError("etcdserver: too many requests"));
}

TEST(EtcdErrors, ClusterErrorsCarryEtcdsCodeAndExactText) {
  EXPECT_EQ(ErrNoLeader(), absl::UnavailableError("etcdserver: no leader"));
  EXPECT_EQ(ErrNotLeader(), absl::FailedPreconditionError("etcdserver: not leader"));
  EXPECT_EQ(ErrLeaderChanged(), absl::UnavailableError("etcdserver: leader changed"));
  EXPECT_EQ(ErrTimeout(), absl::UnavailableError("etcdserver: request timed out"));
  EXPECT_EQ(ErrLeaseExist(), absl::FailedPreconditionError("etcdserver: lease already exists"));
  EXPECT_EQ(ErrLeaseTTLTooLarge(), absl::OutOfRangeError("etcdserver: too large lease TTL"));
  EXPECT_EQ(ErrMemberNotFound(), absl::NotFoundError("etcdserver: member not found"));
  EXPECT_EQ(ErrCorrupt(), absl::DataLossError("etcdserver: corrupt cluster"));
  EXPECT_EQ(ErrInvalidAuthToken(), absl::UnauthenticatedError("etcdserver: invalid auth token"));
}

TEST(EtcdErrors, EveryMessageIsUniqueAndPrefixed) {
  // Clients map by message text, so two rows with one text would be indistinguishable.
  std::set<std::string> seen;
  for (const EtcdErrorInfo& info : AllEtcdErrors()) {
    std::string message(info.message);
    EXPECT_TRUE(seen.insert(message).second) << message;
    EXPECT_EQ(message.rfind("etcdserver: ", 0), 0u) << message;
    EXPECT_NE(info.code, absl::StatusCode::kOk);
  }
}

TEST(EtcdErrors, IsEtcdErrorMatchesCodeAndText) {
  EXPECT_TRUE(IsEtcdError(ErrCompacted(), EtcdErrorId::kCompacted));
  EXPECT_FALSE(IsEtcdError(ErrFutureRev(), EtcdErrorId::kCompacted));
  EXPECT_FALSE(IsEtcdError(absl::InternalError(std::string(
                               EtcdErrorInfoOf(EtcdErrorId::kCompacted).message)),
                           EtcdErrorId::kCompacted));
  EXPECT_FALSE(IsEtcdError(absl::OkStatus(), EtcdErrorId::kCompacted));
}

}  // namespace
}  // namespace keel
