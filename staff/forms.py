from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("E-post", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Passord", validators=[DataRequired(), Length(max=200)])
