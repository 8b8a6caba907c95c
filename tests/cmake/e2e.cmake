# The systemd end-to-end test (ctest label e2e-systemd): boots a Debian rootfs with
# systemd-nspawn, installs the .deb and .rpm built from this tree, applies the Ansible role.
# Root only (exit 77 = skipped otherwise). Not part of the sanitizer run.
# kubelet-certd-fakekubelet plays the kubelet inside (version, start-up refusal, healthz).
add_executable(kubelet-certd-fakekubelet ${CMAKE_CURRENT_LIST_DIR}/../fakekubelet/main.cpp)
target_link_libraries(kubelet-certd-fakekubelet PRIVATE kcd_options ${KCD_YAML_TARGET})
add_test(NAME e2e-systemd COMMAND ${CMAKE_CURRENT_LIST_DIR}/../e2e/systemd_e2e.sh ${CMAKE_BINARY_DIR})
# Started first (the highest COST) beside `tidy`, the next highest: on 2 cores the container
# then shares the machine with one clang-tidy process rather than with the timing-sensitive
# integration tests, and its 100 s no longer run alone at the end (CI's time).
set_tests_properties(e2e-systemd PROPERTIES LABELS "e2e-systemd" TIMEOUT 1200 SKIP_RETURN_CODE 77 COST 10000)
