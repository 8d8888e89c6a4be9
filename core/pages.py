"""Small core pages: the home page."""
from flask_appbuilder import IndexView, expose


class HomeView(IndexView):
    index_template = "permits/index.html"
