#include "server/grpc_log_bridge.h"

#include "gtest/gtest.h"

namespace refx::server {
namespace {

// The reasons come from what OpenSSL 3 (through gRPC 1.51) writes for each
// refusal; the process tests see them end to end (log_canary_test).
TEST(TlsRefusalReasonTest, NamesEachRefusalTheTlsStackMakes) {
  constexpr char kNoCert[] =
      "Handshake failed with fatal error SSL_ERROR_SSL: error:0A0000C7:SSL routines::peer did not return a "
      "certificate.";
  constexpr char kVerify[] =
      "Handshake failed with fatal error SSL_ERROR_SSL: error:0A000086:SSL routines::certificate verify failed.";
  EXPECT_EQ(TlsRefusalReason(kNoCert, 0), "NO_CLIENT_CERTIFICATE");
  EXPECT_EQ(TlsRefusalReason(kVerify, 20), "CERTIFICATE_UNTRUSTED_ISSUER");
  EXPECT_EQ(TlsRefusalReason(kVerify, 10), "CERTIFICATE_EXPIRED");
  EXPECT_EQ(TlsRefusalReason(kVerify, 9), "CERTIFICATE_NOT_YET_VALID");
  EXPECT_EQ(TlsRefusalReason(kVerify, 23), "CERTIFICATE_REVOKED");
  EXPECT_EQ(TlsRefusalReason(kVerify, 26), "CERTIFICATE_WRONG_PURPOSE");
  EXPECT_EQ(TlsRefusalReason(kVerify, 47), "CERTIFICATE_NAME_CONSTRAINT");
  EXPECT_EQ(TlsRefusalReason(kVerify, 12), "REVOCATION_STATE_UNKNOWN");
  EXPECT_EQ(TlsRefusalReason(kVerify, 65), "CERTIFICATE_INVALID");
  EXPECT_EQ(TlsRefusalReason(kVerify, 0), "CERTIFICATE_INVALID");
  EXPECT_EQ(TlsRefusalReason("Handshake failed with fatal error SSL_ERROR_SSL: error:0A00010B:SSL routines::wrong "
                             "version number.",
                             0),
            "NOT_TLS");
  EXPECT_EQ(TlsRefusalReason("Handshake failed with fatal error SSL_ERROR_SSL: error:0A000102:SSL routines::"
                             "unsupported protocol.",
                             0),
            "TLS_PARAMETERS_REFUSED");
  EXPECT_EQ(TlsRefusalReason("Handshake failed with fatal error SSL_ERROR_SYSCALL", 0), "TLS_HANDSHAKE_FAILED");
}

}  // namespace
}  // namespace refx::server
