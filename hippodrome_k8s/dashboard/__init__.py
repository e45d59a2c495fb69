"""The status dashboard on :9000: `/api/status`, `/api/stack`, control endpoints and one HTML page."""
