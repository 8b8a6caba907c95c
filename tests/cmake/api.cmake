# Tests of the Kubernetes API client (daemon/api): recorded objects and errors, the watch
# decoder, and the client over real TLS against a replay server.
set(_u ${CMAKE_CURRENT_LIST_DIR}/../unit)
kcd_add_test(daemon_api_types_test SOURCES ${_u}/daemon_api_types_test.cpp LIBS kcd_daemon kcd_testsupport)
kcd_add_test(daemon_cluster_types_test SOURCES ${_u}/daemon_cluster_types_test.cpp LIBS kcd_daemon kcd_testsupport)
kcd_add_test(daemon_cluster_ca_test SOURCES ${_u}/daemon_cluster_ca_test.cpp LIBS kcd_daemon kcd_testsupport)
kcd_add_test(daemon_api_client_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/../integration/daemon_api_client_test.cpp
             LIBS kcd_daemon kcd_testsupport LABELS integration)
# The client against a hostile HTTPS server: every answer ends in a clear error, memory bounded.
kcd_add_test(hostile_server_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/../integration/hostile_server_test.cpp
             LIBS kcd_daemon kcd_testsupport LABELS integration)
# The kubelet config change: version rules, checked restart and rollback (fake systemd).
kcd_add_test(daemon_kubelet_change_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/daemon_kubelet_change_test.cpp
             LIBS kcd_daemon kcd_testsupport)
# The approver's calls (list, watch from the list's resourceVersion) against devapi.
kcd_add_test(approver_api_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/../integration/approver_api_test.cpp
             LIBS kcd_daemon kcd_devapi kcd_testsupport LABELS integration)
# `kubelet-certd approve` (the binary, three replicas) against devapi: leader election, takeover
# after a kill, one decision per CSR, denial of another node's address, a CSR before its Node.
kcd_add_test(approver_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/../integration/approver_test.cpp
             LIBS kcd_daemon kcd_devapi kcd_testsupport LABELS integration)
target_compile_definitions(approver_test PRIVATE KCD_BINARY="$<TARGET_FILE:kubelet-certd>")
add_dependencies(approver_test kubelet-certd)
