# Unit tests of the daemon's pure decisions and its control protocol: the kubelet restart
# policy, the exit verdicts, the typed control protocol and the control socket in-process.
set(_u ${CMAKE_CURRENT_LIST_DIR}/../unit)
kcd_add_test(daemon_kubelet_restart_policy_test SOURCES ${_u}/daemon_kubelet_restart_policy_test.cpp LIBS kcd_daemon)
kcd_add_test(daemon_exit_verdict_test SOURCES ${_u}/daemon_exit_verdict_test.cpp LIBS kcd_daemon)
kcd_add_test(daemon_control_protocol_test SOURCES ${_u}/daemon_control_protocol_test.cpp LIBS kcd_daemon)
kcd_add_test(daemon_control_test SOURCES ${_u}/daemon_control_test.cpp LIBS kcd_daemon kcd_testsupport)
kcd_add_test(daemon_settings_check_test SOURCES ${_u}/daemon_settings_check_test.cpp LIBS kcd_daemon kcd_testsupport CLI11::CLI11)
kcd_add_test(daemon_leader_election_test SOURCES ${_u}/daemon_leader_election_test.cpp LIBS kcd_daemon)
kcd_add_test(daemon_listener_test SOURCES ${_u}/daemon_listener_test.cpp LIBS kcd_daemon kcd_testsupport)
kcd_add_test(daemon_event_correlator_test SOURCES ${_u}/daemon_event_correlator_test.cpp LIBS kcd_daemon)
kcd_add_test(daemon_clock_watch_test SOURCES ${_u}/daemon_clock_watch_test.cpp LIBS kcd_daemon)
kcd_add_test(daemon_off_loop_test SOURCES ${_u}/daemon_off_loop_test.cpp LIBS kcd_daemon)
