# Browser test of --format html: tests/cli/html_report_test.sh renders the report in headless
# Chromium and checks the chart, verdict and decision tree against --format json. It exits 77
# (skipped) only when Chromium is not installed.
add_test(NAME cli_html_report
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/html_report_test.sh $<TARGET_FILE:zplan>
                 ${CMAKE_CURRENT_BINARY_DIR}/html_report)
set_tests_properties(cli_html_report PROPERTIES LABELS "browser;cli" SKIP_RETURN_CODE 77 TIMEOUT 600
                     WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
