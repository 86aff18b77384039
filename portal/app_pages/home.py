import streamlit as st

from portal import ui
from portal.i18n import t

st.title(t("home.title"))
st.write(t("home.intro"))
left, right = st.columns(2)
with left.container(border=True):
    st.subheader(t("home.customers_title"))
    st.write(t("home.customers_text"))
with right.container(border=True):
    st.subheader(t("home.staff_title"))
    st.write(t("home.staff_text"))
if ui.current_role() == "customer":
    st.stop()
months = ui.run_query("month_ends")
if months.empty:
    st.info(t("shell.no_data"))
else:
    a, b = st.columns(2)
    a.metric(t("home.latest_month"), str(months["as_of"].max().date()))
    b.metric(t("home.book_size"), f"{int(months['loans'].iloc[-1]):,}")
