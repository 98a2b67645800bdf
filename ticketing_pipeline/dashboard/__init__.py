"""The promoter/admin sales dashboard (Streamlit) over the dbt marts; see README.md.

Start it with ``ticketing_pipeline.dashboard.run.run_dashboard``. Nothing is imported here, so
importing the package does not pull in Streamlit.
"""
