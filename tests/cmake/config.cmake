# Unit tests of config/: settings, kubeconfigs, durations and exact numbers; the generated man page.
set(_u ${CMAKE_CURRENT_LIST_DIR}/../unit)
kcd_add_test(config_settings_test SOURCES ${_u}/config_settings_test.cpp LIBS kcd_config kcd_testsupport)
kcd_add_test(config_kubeconfig_test SOURCES ${_u}/config_kubeconfig_test.cpp LIBS kcd_config kcd_testsupport)
kcd_add_test(config_cluster_info_test SOURCES ${_u}/config_cluster_info_test.cpp LIBS kcd_config nlohmann_json::nlohmann_json)
kcd_add_test(config_duration_test SOURCES ${_u}/config_duration_test.cpp LIBS kcd_config)
kcd_add_test(base_number_test SOURCES ${_u}/base_number_test.cpp LIBS kcd_base)
kcd_add_test(base_yaml_test SOURCES ${_u}/base_yaml_test.cpp LIBS kcd_base ${KCD_YAML_TARGET})
kcd_add_test(base_rfc3339_test SOURCES ${_u}/base_rfc3339_test.cpp LIBS kcd_base)
# kubelet-certd(8) as lintian reads it (man --warnings, as its groff-message check does): any
# warning from groff fails the test.
add_test(NAME man_page_lint
  COMMAND sh -c "out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z \"$1\" 2>&1 >/dev/null) && [ -z \"$out\" ] && echo \"man page ok\" || { echo \"$out\"; exit 1; }"
          sh ${PROJECT_BINARY_DIR}/packaging/kubelet-certd.8)
set_tests_properties(man_page_lint PROPERTIES LABELS unit)
kcd_add_test(base_outside_text_test SOURCES ${_u}/base_outside_text_test.cpp LIBS kcd_base ${KCD_YAML_TARGET})
