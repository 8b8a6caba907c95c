# Unit tests of config/: settings, kubeconfigs, durations.
set(_u ${CMAKE_CURRENT_LIST_DIR}/../unit)
kcd_add_test(config_settings_test SOURCES ${_u}/config_settings_test.cpp LIBS kcd_config kcd_testsupport)
kcd_add_test(config_kubeconfig_test SOURCES ${_u}/config_kubeconfig_test.cpp LIBS kcd_config kcd_testsupport)
kcd_add_test(config_duration_test SOURCES ${_u}/config_duration_test.cpp LIBS kcd_config)
