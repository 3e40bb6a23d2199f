// etcd's client-visible errors, as absl::Status values.
//
// etcd clients (clientv3, python-etcd3, the npm client, client-go) turn a gRPC error into a
// typed error by its exact message text, and some also look at the code, so Keel must answer
// with etcd's code and message to the byte. This file is the one table of them: every layer
// returns `EtcdError(EtcdErrorId::kCompacted)` (or the `Err...()` shorthand) and server/ turns
// an absl::Status into a grpc::Status by copying code and message, nothing more.
//
// Source: etcd's api/v3rpc/rpctypes/error.go (3.4, plus the 3.5 additions marked below),
// checked against a running etcd 3.4.23.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace keel {

// X(Name, absl::StatusCode, "exact etcd message"). Keep the order stable: ids are indexes.
#define KEEL_ETCD_ERRORS(X)                                                                    \
  X(EmptyKey, kInvalidArgument, "etcdserver: key is not provided")                            \
  X(KeyNotFound, kInvalidArgument, "etcdserver: key not found")                               \
  X(ValueProvided, kInvalidArgument, "etcdserver: value is provided")                         \
  X(LeaseProvided, kInvalidArgument, "etcdserver: lease is provided")                         \
  X(TooManyOps, kInvalidArgument, "etcdserver: too many operations in txn request")           \
  X(DuplicateKey, kInvalidArgument, "etcdserver: duplicate key given in txn request")         \
  /* 3.5: etcd 3.4 has no check for out-of-range sort enums. */                               \
  X(InvalidSortOption, kInvalidArgument, "etcdserver: invalid sort option")                   \
  X(Compacted, kOutOfRange, "etcdserver: mvcc: required revision has been compacted")         \
  X(FutureRev, kOutOfRange, "etcdserver: mvcc: required revision is a future revision")       \
  X(NoSpace, kResourceExhausted, "etcdserver: mvcc: database space exceeded")                 \
  X(LeaseNotFound, kNotFound, "etcdserver: requested lease not found")                        \
  X(LeaseExist, kFailedPrecondition, "etcdserver: lease already exists")                      \
  X(LeaseTTLTooLarge, kOutOfRange, "etcdserver: too large lease TTL")                         \
  X(MemberExist, kFailedPrecondition, "etcdserver: member ID already exist")                  \
  X(PeerURLExist, kFailedPrecondition, "etcdserver: Peer URLs already exists")                \
  X(MemberNotEnoughStarted, kFailedPrecondition,                                              \
    "etcdserver: re-configuration failed due to not enough started members")                  \
  X(MemberBadURLs, kInvalidArgument, "etcdserver: given member URLs are invalid")             \
  X(MemberNotFound, kNotFound, "etcdserver: member not found")                                \
  X(MemberNotLearner, kFailedPrecondition, "etcdserver: can only promote a learner member")   \
  X(LearnerNotReady, kFailedPrecondition,                                                     \
    "etcdserver: can only promote a learner member which is in sync with leader")             \
  X(TooManyLearners, kFailedPrecondition, "etcdserver: too many learner members in cluster")  \
  X(RequestTooLarge, kInvalidArgument, "etcdserver: request is too large")                    \
  X(TooManyRequests, kResourceExhausted, "etcdserver: too many requests")                     \
  X(RootUserNotExist, kFailedPrecondition, "etcdserver: root user does not exist")            \
  X(RootRoleNotExist, kFailedPrecondition, "etcdserver: root user does not have root role")   \
  X(UserAlreadyExist, kFailedPrecondition, "etcdserver: user name already exists")            \
  X(UserEmpty, kInvalidArgument, "etcdserver: user name is empty")                            \
  X(UserNotFound, kFailedPrecondition, "etcdserver: user name not found")                     \
  X(RoleAlreadyExist, kFailedPrecondition, "etcdserver: role name already exists")            \
  X(RoleNotFound, kFailedPrecondition, "etcdserver: role name not found")                     \
  X(RoleEmpty, kInvalidArgument, "etcdserver: role name is empty")                            \
  X(AuthFailed, kInvalidArgument,                                                             \
    "etcdserver: authentication failed, invalid user ID or password")                         \
  X(PermissionDenied, kPermissionDenied, "etcdserver: permission denied")                     \
  X(RoleNotGranted, kFailedPrecondition, "etcdserver: role is not granted to the user")       \
  X(PermissionNotGranted, kFailedPrecondition,                                                \
    "etcdserver: permission is not granted to the role")                                      \
  X(AuthNotEnabled, kFailedPrecondition, "etcdserver: authentication is not enabled")         \
  X(InvalidAuthToken, kUnauthenticated, "etcdserver: invalid auth token")                     \
  X(InvalidAuthMgmt, kInvalidArgument, "etcdserver: invalid auth management")                 \
  X(AuthOldRevision, kInvalidArgument, "etcdserver: revision of auth store is old")           \
  X(NoLeader, kUnavailable, "etcdserver: no leader")                                          \
  X(NotLeader, kFailedPrecondition, "etcdserver: not leader")                                 \
  X(LeaderChanged, kUnavailable, "etcdserver: leader changed")                                \
  X(NotCapable, kUnavailable, "etcdserver: not capable")                                      \
  X(Stopped, kUnavailable, "etcdserver: server stopped")                                      \
  X(Timeout, kUnavailable, "etcdserver: request timed out")                                   \
  X(TimeoutDueToLeaderFail, kUnavailable,                                                     \
    "etcdserver: request timed out, possibly due to previous leader failure")                 \
  X(TimeoutDueToConnectionLost, kUnavailable,                                                 \
    "etcdserver: request timed out, possibly due to connection lost")                         \
  X(Unhealthy, kUnavailable, "etcdserver: unhealthy cluster")                                 \
  X(Corrupt, kDataLoss, "etcdserver: corrupt cluster")                                        \
  X(NotSupportedForLearner, kUnavailable, "etcdserver: rpc not supported for learner")        \
  X(BadLeaderTransferee, kFailedPrecondition, "etcdserver: bad leader transferee")            \
  X(TimeoutLeaderTransfer, kDeadlineExceeded,                                                 \
    "etcdserver: request timed out, leader transfer took too long")                           \
  /* 3.5: downgrade. */                                                                       \
  X(ClusterVersionUnavailable, kUnavailable,                                                  \
    "etcdserver: cluster version not found during downgrade")                                 \
  X(WrongDowngradeVersionFormat, kInvalidArgument,                                            \
    "etcdserver: wrong downgrade target version format")                                      \
  X(InvalidDowngradeTargetVersion, kInvalidArgument,                                          \
    "etcdserver: invalid downgrade target version")                                           \
  X(DowngradeInProcess, kFailedPrecondition,                                                  \
    "etcdserver: cluster has a downgrade job in progress")                                    \
  X(NoInflightDowngrade, kFailedPrecondition, "etcdserver: no inflight downgrade job")

enum class EtcdErrorId {
#define KEEL_ETCD_ERROR_ID(name, code, message) k##name,
  KEEL_ETCD_ERRORS(KEEL_ETCD_ERROR_ID)
#undef KEEL_ETCD_ERROR_ID
};

struct EtcdErrorInfo {
  EtcdErrorId id;
  std::string_view name;  // "Compacted" (etcd calls it ErrCompacted / ErrGRPCCompacted)
  absl::StatusCode code;
  std::string_view message;
};

// Every row of the table, in EtcdErrorId order.
absl::Span<const EtcdErrorInfo> AllEtcdErrors();

const EtcdErrorInfo& EtcdErrorInfoOf(EtcdErrorId id);

// The status etcd answers with for `id`.
absl::Status EtcdError(EtcdErrorId id);

// True when `status` is exactly etcd's error `id` (code and message).
bool IsEtcdError(const absl::Status& status, EtcdErrorId id);

// Shorthands: ErrCompacted(), ErrFutureRev(), ... one per row.
#define KEEL_ETCD_ERROR_FN(name, code, message) \
  inline absl::Status Err##name() { return EtcdError(EtcdErrorId::k##name); }
KEEL_ETCD_ERRORS(KEEL_ETCD_ERROR_FN)
#undef KEEL_ETCD_ERROR_FN

}  // namespace keel
