# Unit tests of kubelet/: the config file patch, the CIS checks, versions and what each accepts,
# finding the real kubelet, the change record, diffs.
set(_u ${CMAKE_CURRENT_LIST_DIR}/../unit)
kcd_add_test(kubelet_config_patch_test SOURCES ${_u}/kubelet_config_patch_test.cpp LIBS kcd_kubelet ${KCD_YAML_TARGET})
kcd_add_test(kubelet_cis_test SOURCES ${_u}/kubelet_cis_test.cpp LIBS kcd_kubelet ${KCD_YAML_TARGET})
kcd_add_test(kubelet_cis_evaluate_test SOURCES ${_u}/kubelet_cis_evaluate_test.cpp LIBS kcd_kubelet)
kcd_add_test(kubelet_key_rules_test SOURCES ${_u}/kubelet_key_rules_test.cpp LIBS kcd_kubelet)
kcd_add_test(kubelet_detect_test SOURCES ${_u}/kubelet_detect_test.cpp LIBS kcd_kubelet)
kcd_add_test(kubelet_change_state_test SOURCES ${_u}/kubelet_change_state_test.cpp LIBS kcd_kubelet)
kcd_add_test(kubelet_diff_test SOURCES ${_u}/kubelet_diff_test.cpp LIBS kcd_kubelet)
kcd_add_test(kubelet_yaml_edit_test SOURCES ${_u}/kubelet_yaml_edit_test.cpp LIBS kcd_kubelet)
